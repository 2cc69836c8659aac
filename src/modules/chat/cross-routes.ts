import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { CHAT_LIMITS, CrossGroupSearchRequest, CrossGroupSearchResponse } from '../../../schemas/chat.ts'
import { ok } from '../../lib/envelope.ts'

const Failure = Ref(ErrorResponse)
// A plain object (no $id) so that OpenAPI lists its parameters.
const CrossSearchQuery = Type.Object(CrossGroupSearchRequest.properties)

/**
 * Chat routes that span the caller's groups, mounted at /chat. Each group's rules apply per
 * group inside the service (membership, clear watermark, blocks); no group guard runs here.
 */
const crossGroupChatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const chat = fastify.chatService

  fastify.get('/search', {
    config: { rateLimit: fastify.rateLimitCategory('search'), failureCode: 'SEARCH_FAILED' },
    schema: {
      tags: ['chat'],
      summary: `Search your groups at once (the ${CHAT_LIMITS.crossSearchMaxGroups} most recently active), newest first; page with cursor=nextCursor`,
      querystring: CrossSearchQuery,
      response: { 200: Envelope(Ref(CrossGroupSearchResponse)), 400: Failure, 401: Failure, 429: Failure, 500: Failure }
    }
  }, async (request) => {
    return ok(await chat.searchAcrossGroups(request.user, request.query))
  })
}

export default crossGroupChatRoutes
