import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Envelope, ErrorResponse, GroupIdParams, Ref } from '../../../schemas/common.ts'
import {
  AddReactionRequest, DeleteMessageResponse, EditMessageRequest, ForwardMessageRequest, ForwardMessageResponse, GetMessagesRequest, GetMessagesResponse, MarkReadRequest,
  MarkReadResponse, MessageEditHistoryResponse, MessageParams, MessageResponse, PinMessageRequest, PinMessageResponse, PinnedMessagesResponse,
  ReactionParams, ReactionsResponse, SearchMessagesRequest, SearchMessagesResponse, SendMessageRequest,
  UnpinMessageResponse, UnreadCountResponse
} from '../../../schemas/chat.ts'
import { ok } from '../../lib/envelope.ts'
import { callerOf, requireMembership } from '../membership/guard.ts'
import type { CallerIn } from './forward.ts'

const Failure = Ref(ErrorResponse)
/** Error statuses every chat route can answer: bad input, no token, not a member, no such group or message, rate limited, failed. */
const failures = { 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure, 500: Failure }

// Query strings are plain objects (no $id) so that OpenAPI lists their parameters.
const MessagesQuery = Type.Object(GetMessagesRequest.properties)
const SearchQuery = Type.Object(SearchMessagesRequest.properties)

/**
 * The chat API of seed 01 §4 (typing and presence live in the presence area), mounted at
 * /groups/:groupId/chat. Every route requires a member of the group: 404 for an unknown group,
 * 403 for a non-member. Handlers only call the chat service, which the WebSocket commands share.
 *
 * Choices the seed leaves open: an unknown `before`/`after` cursor or `parentMessageId` (a bad
 * reference in the request) is 400 VALIDATION_ERROR; an unknown message in the path is 404.
 * Editing a deleted message is 404; deleting one again and unpinning an unpinned one succeed.
 */
const chatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', requireMembership)
  const chat = fastify.chatService
  const groups = fastify.groupService

  /** The caller's membership in another group than the route's (a forward's targets). */
  const callerInOtherGroups = (request: FastifyRequest): CallerIn => async (groupId) => {
    const membership = await groups.getMembership(groupId, request.user.id)
    return membership === null ? null : { user: request.user, membership }
  }

  fastify.post('/messages', {
    config: { rateLimit: fastify.rateLimitCategory('send'), failureCode: 'SEND_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Send a message: 201 with the stored message; a retry of a clientMessageId answers 201 with the original message',
      params: GroupIdParams,
      body: Ref(SendMessageRequest),
      response: { 201: Envelope(Ref(MessageResponse)), ...failures }
    }
  }, async (request, reply) => {
    // Seed 01 §4.2.1 answers a send with 201; a retry is the same send, so it answers alike.
    const { message } = await chat.sendMessage(callerOf(request), request.body)
    return await reply.code(201).send(ok({ message }))
  })

  fastify.get('/messages', {
    schema: {
      tags: ['chat'],
      summary: 'A page of messages, newest first: `before` pages back in time, `after` forward (the oldest messages after the cursor); nextCursor is the oldest message of the page',
      params: GroupIdParams,
      querystring: MessagesQuery,
      response: { 200: Envelope(Ref(GetMessagesResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.listMessages(callerOf(request), request.query))
  })

  fastify.get('/messages/:messageId', {
    schema: {
      tags: ['chat'],
      summary: 'One message with its reactions and readers',
      params: MessageParams,
      response: { 200: Envelope(Ref(MessageResponse)), ...failures }
    }
  }, async (request) => {
    return ok({ message: await chat.getMessage(callerOf(request), request.params.messageId) })
  })

  fastify.put('/messages/:messageId', {
    config: { rateLimit: fastify.rateLimitCategory('edit'), failureCode: 'EDIT_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Edit your own message; the previous version is kept in the edit history',
      params: MessageParams,
      body: Ref(EditMessageRequest),
      response: { 200: Envelope(Ref(MessageResponse)), ...failures, 409: Failure }
    }
  }, async (request) => {
    return ok({ message: await chat.editMessage(callerOf(request), request.params.messageId, request.body) })
  })

  fastify.delete('/messages/:messageId', {
    config: { failureCode: 'DELETE_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Delete a message (its sender, or a group admin or the owner); the content is never served again',
      params: MessageParams,
      response: { 200: Envelope(Ref(DeleteMessageResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.deleteMessage(callerOf(request), request.params.messageId))
  })

  fastify.post('/messages/:messageId/reactions', {
    config: { rateLimit: fastify.rateLimitCategory('reactions'), failureCode: 'REACTION_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'React to a message (the same emoji twice is a no-op)',
      params: MessageParams,
      body: Ref(AddReactionRequest),
      response: { 200: Envelope(Ref(ReactionsResponse)), ...failures }
    }
  }, async (request) => {
    return ok({ reactions: await chat.addReaction(callerOf(request), request.params.messageId, request.body.emoji) })
  })

  fastify.delete('/messages/:messageId/reactions/:emoji', {
    config: { rateLimit: fastify.rateLimitCategory('reactions'), failureCode: 'REACTION_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Remove your reaction; the emoji is URL-encoded in the path',
      params: ReactionParams,
      response: { 200: Envelope(Ref(ReactionsResponse)), ...failures }
    }
  }, async (request) => {
    return ok({ reactions: await chat.removeReaction(callerOf(request), request.params.messageId, request.params.emoji) })
  })

  fastify.post('/messages/:messageId/forward', {
    config: { rateLimit: fastify.rateLimitCategory('send'), failureCode: 'SEND_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Forward a message to 1–10 groups: a copy sent by you in each, with metadata.forwardedFrom; 200 with one result per target (each succeeds or fails on its own). Each target counts as a send against the send rate limit',
      params: MessageParams,
      body: Ref(ForwardMessageRequest),
      response: { 200: Envelope(Ref(ForwardMessageResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.forwardMessage(callerOf(request), request.params.messageId, request.body, callerInOtherGroups(request)))
  })

  fastify.get('/messages/:messageId/history', {
    schema: {
      tags: ['chat'],
      summary: 'The previous versions of a message (the newest 100), newest first; 404 for a deleted message or one you are not shown',
      params: MessageParams,
      response: { 200: Envelope(Ref(MessageEditHistoryResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.editHistory(callerOf(request), request.params.messageId))
  })

  fastify.get('/messages/:messageId/reactions', {
    config: { failureCode: 'REACTION_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'A message\'s reactions, relative to the caller',
      params: MessageParams,
      response: { 200: Envelope(Ref(ReactionsResponse)), ...failures }
    }
  }, async (request) => {
    return ok({ reactions: await chat.listReactions(callerOf(request), request.params.messageId) })
  })

  fastify.post('/read', {
    schema: {
      tags: ['chat'],
      summary: 'Mark everything up to a message as read (the watermark never moves back)',
      params: GroupIdParams,
      body: Ref(MarkReadRequest),
      response: { 200: Envelope(Ref(MarkReadResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.markRead(callerOf(request), request.body.messageId))
  })

  fastify.get('/unread', {
    schema: {
      tags: ['chat'],
      summary: 'How many messages from others arrived after your read watermark',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(UnreadCountResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.unreadCount(callerOf(request)))
  })

  fastify.post('/messages/:messageId/pin', {
    config: { failureCode: 'PIN_FAILED' },
    // The body is optional: a bare POST pins without a note.
    preValidation: async (request) => { request.body ??= {} },
    schema: {
      tags: ['chat'],
      summary: 'Pin a message (group admins and the owner); pinning again replaces the note',
      params: MessageParams,
      body: Ref(PinMessageRequest),
      response: { 200: Envelope(Ref(PinMessageResponse)), ...failures, 409: Failure }
    }
  }, async (request) => {
    return ok(await chat.pinMessage(callerOf(request), request.params.messageId, request.body.note))
  })

  fastify.delete('/messages/:messageId/pin', {
    config: { failureCode: 'PIN_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Unpin a message (group admins and the owner)',
      params: MessageParams,
      response: { 200: Envelope(Ref(UnpinMessageResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.unpinMessage(callerOf(request), request.params.messageId))
  })

  fastify.get('/pinned', {
    config: { failureCode: 'PIN_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Pinned messages in pin order, with metadata.pinNote, pinnedAt and pinnedBy',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(PinnedMessagesResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.pinnedMessages(callerOf(request)))
  })

  fastify.get('/search', {
    config: { rateLimit: fastify.rateLimitCategory('search'), failureCode: 'SEARCH_FAILED' },
    schema: {
      tags: ['chat'],
      summary: 'Search the group\'s messages (every word and every given filter must match; senders you blocked are left out), newest first; count is the total',
      params: GroupIdParams,
      querystring: SearchQuery,
      response: { 200: Envelope(Ref(SearchMessagesResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await chat.searchMessages(callerOf(request), request.query))
  })
}

export default chatRoutes
