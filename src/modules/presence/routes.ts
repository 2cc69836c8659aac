import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, GroupIdParams, Ref } from '../../../schemas/common.ts'
import {
  GroupPresenceResponse, PresenceUpdateResult, SetTypingRequest, TypingStatus, TypingUsersResponse, UpdatePresenceRequest
} from '../../../schemas/ws.ts'
import { ok } from '../../lib/envelope.ts'
import { membershipOf, requireMembership } from '../membership/guard.ts'

const errors = {
  400: Ref(ErrorResponse),
  401: Ref(ErrorResponse),
  403: Ref(ErrorResponse),
  404: Ref(ErrorResponse),
  429: Ref(ErrorResponse)
}

/**
 * Typing and presence over HTTP (seed 01 §4.5–4.6), mounted at /groups/:groupId/chat. The
 * WebSocket commands are the preferred path; both call the same presence service.
 */
const presenceRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', requireMembership)

  fastify.post('/typing', {
    schema: {
      tags: ['typing'],
      summary: 'Set the caller\'s typing status in the group (expires after 5 s)',
      params: GroupIdParams,
      body: SetTypingRequest,
      response: { 200: Envelope(Ref(TypingStatus)), ...errors }
    }
  }, async (request) => {
    const { groupId } = membershipOf(request)
    return ok(await fastify.presenceService.setTyping(request.user, groupId, request.body.isTyping))
  })

  fastify.get('/typing', {
    schema: {
      tags: ['typing'],
      summary: 'Who is typing in the group',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(TypingUsersResponse)), ...errors }
    }
  }, async (request) => {
    const { groupId } = membershipOf(request)
    return ok({ typingUsers: await fastify.presenceService.typingUsers(groupId) })
  })

  fastify.post('/presence', {
    schema: {
      tags: ['presence'],
      summary: 'Set the caller\'s presence status (shown in all their groups)',
      params: GroupIdParams,
      body: UpdatePresenceRequest,
      response: { 200: Envelope(Ref(PresenceUpdateResult)), ...errors }
    }
  }, async (request) => {
    const { groupId } = membershipOf(request)
    const { status, deviceType } = request.body
    return ok(await fastify.presenceService.updatePresence(request.user, groupId, status, deviceType))
  })

  fastify.get('/presence', {
    schema: {
      tags: ['presence'],
      summary: 'The presence of the group\'s members',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(GroupPresenceResponse)), ...errors }
    }
  }, async (request) => {
    const { groupId } = membershipOf(request)
    return ok({ presence: await fastify.presenceService.groupPresence(groupId) })
  })
}

export default presenceRoutes
