import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Envelope, ErrorResponse, GroupIdParams, Ref } from '../../../schemas/common.ts'
import { ChatPreferences } from '../../../schemas/chat.ts'
import {
  ArchiveChatRequest, ArchiveChatResponse, BulkReadStatusRequest, BulkReadStatusResponse, ClearHistoryQuery, ClearHistoryResponse,
  ContactPresenceResponse, DeleteChatResponse, PresenceQuery, ReadStatusRequest, ReadStatusResponse, SingleUnreadCountResponse,
  UnreadCountQuery, UnreadCountsResponse, UpdateChatPreferencesRequest
} from '../../../schemas/chat-management.ts'
import { Type } from '@sinclair/typebox'
import { ok } from '../../lib/envelope.ts'
import { callerOf, requireMembership } from '../membership/guard.ts'

const Failure = Ref(ErrorResponse)
const failures = { 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }

/**
 * Chat management of one chat (seed 05 §§1–5), mounted at /groups/:groupId/chat beside the
 * chat routes: the same membership guard (404 unknown group, 403 not a member).
 */
export const chatManagementRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', requireMembership)
  const manage = fastify.chatManagement

  fastify.delete('/', {
    schema: {
      tags: ['chat management'],
      summary: 'Delete the chat for yourself: a direct chat is hidden and cleared until a newer message; a group is left (the last member out deletes it)',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(DeleteChatResponse)), ...failures }
    }
  }, async (request) => ok(await manage.deleteChat(callerOf(request))))

  fastify.delete('/messages', {
    schema: {
      tags: ['chat management'],
      summary: 'Clear the history for yourself, or for every member with forEveryone=true (admins and the owner)',
      params: GroupIdParams,
      querystring: ClearHistoryQuery,
      response: { 200: Envelope(Ref(ClearHistoryResponse)), ...failures }
    }
  }, async (request) => ok(await manage.clearHistory(callerOf(request), request.query.forEveryone)))

  fastify.put('/archive', {
    schema: {
      tags: ['chat management'],
      summary: 'Archive or unarchive the chat for yourself; a new message unarchives it unless it is muted',
      params: GroupIdParams,
      body: Ref(ArchiveChatRequest),
      response: { 200: Envelope(Ref(ArchiveChatResponse)), ...failures }
    }
  }, async (request) => ok(await manage.setArchived(callerOf(request), request.body.isArchived)))

  fastify.put('/read-status', {
    schema: {
      tags: ['chat management'],
      summary: 'Mark the chat read (all, or up to lastReadMessageId; never backwards) or unread (at least 1 until read)',
      params: GroupIdParams,
      body: Ref(ReadStatusRequest),
      response: { 200: Envelope(Ref(ReadStatusResponse)), ...failures }
    }
  }, async (request) => ok(await manage.setReadStatus(callerOf(request), request.body)))

  fastify.get('/preferences', {
    schema: {
      tags: ['chat management'],
      summary: 'Your preferences of the chat (seed 01 ChatPreferences)',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(ChatPreferences)), ...failures }
    }
  }, async (request) => ok(await manage.getPreferences(callerOf(request))))

  fastify.put('/preferences', {
    schema: {
      tags: ['chat management'],
      summary: 'Change your preferences of the chat: notificationLevel, mute (muteFor or mutedUntil; null unmutes), showPreviews, pinned (at most 10 chats)',
      params: GroupIdParams,
      body: Ref(UpdateChatPreferencesRequest),
      response: { 200: Envelope(Ref(ChatPreferences)), ...failures, 409: Failure }
    }
  }, async (request) => ok(await manage.updatePreferences(callerOf(request), request.body)))
}

/** Splits `?userIds=1,2,3` into the array the schema takes (repeated `?userIds=` works as is). */
async function splitUserIds (request: FastifyRequest): Promise<void> {
  const query = request.query as { userIds?: unknown }
  const raw = Array.isArray(query.userIds) ? query.userIds : [query.userIds]
  if (raw.some((value) => typeof value === 'string' && value.includes(','))) {
    query.userIds = raw.flatMap((value) => typeof value === 'string' ? value.split(',').filter((part) => part !== '') : [value])
  }
}

/** Chat management across chats, mounted at API_PREFIX: /chat/unread-count, /chat/read-status, /presence. */
export const accountChatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const manage = fastify.chatManagement

  fastify.get('/chat/unread-count', {
    schema: {
      tags: ['chat management'],
      summary: 'Your unread counts: the total and every chat with unread messages; with ?groupId= one chat',
      querystring: UnreadCountQuery,
      response: { 200: Envelope(Type.Union([Ref(UnreadCountsResponse), Ref(SingleUnreadCountResponse)])), ...failures }
    }
  }, async (request) => {
    const { groupId, excludeMuted } = request.query
    return ok(groupId === undefined
      ? await manage.unreadCounts(request.user.id, excludeMuted)
      : await manage.unreadCountOfGroup(request.user.id, groupId))
  })

  fastify.put('/chat/read-status', {
    schema: {
      tags: ['chat management'],
      summary: 'Mark up to 100 of your chats read or unread at once (404, and nothing changed, if one is not yours)',
      body: Ref(BulkReadStatusRequest),
      response: { 200: Envelope(Ref(BulkReadStatusResponse)), ...failures }
    }
  }, async (request) => ok(await manage.setReadStatusOfMany(request.user, request.body.groupIds, request.body.isRead)))

  fastify.get('/presence', {
    preValidation: splitUserIds,
    schema: {
      tags: ['presence'],
      summary: 'The presence of up to 100 users who share a group with you; others are left out',
      querystring: PresenceQuery,
      response: { 200: Envelope(Ref(ContactPresenceResponse)), ...failures }
    }
  }, async (request) => ok({ presence: await manage.contactsPresence(request.user.id, request.query.userIds) }))
}
