import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { MessageParams } from '../../../schemas/chat.ts'
import { MessageReportResponse, ReportMessageRequest } from '../../../schemas/moderation.ts'
import { ok } from '../../lib/envelope.ts'
import { callerOf, requireMembership } from '../membership/guard.ts'

const Failure = Ref(ErrorResponse)

/**
 * Reporting a message (seed 04), mounted at /groups/:groupId/chat beside the chat routes: members
 * only (404 for an unknown group, 403 for a non-member), and only messages the reporter can see.
 */
const reportRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', requireMembership)
  const moderation = fastify.moderationService

  fastify.post('/messages/:messageId/report', {
    schema: {
      tags: ['moderation'],
      summary: 'Report a message to the system administrators; one open report per reporter and message (409 for a second)',
      params: MessageParams,
      body: Ref(ReportMessageRequest),
      response: { 201: Envelope(Ref(MessageReportResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request, reply) => {
    const report = await moderation.reportMessage(callerOf(request), request.params.messageId, request.body)
    return await reply.code(201).send(ok({ report }))
  })
}

export default reportRoutes
