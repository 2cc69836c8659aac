import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { ServerStatus } from '../../../schemas/ops.ts'
import { ok } from '../../lib/envelope.ts'
import { requireSystemAdmin } from '../admins/service.ts'

const Failure = Ref(ErrorResponse)

/** GET /status, outside the API prefix like /health: system administrators only (401, 403). */
const opsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', requireSystemAdmin(fastify.adminService))

  fastify.get('/status', {
    schema: {
      tags: ['ops'],
      summary: 'This instance: version, uptime, id, connections, MySQL and Redis state, webhook outbox depth (system administrators)',
      security: [{ bearerAuth: [] }],
      response: { 200: Envelope(Ref(ServerStatus)), 401: Failure, 403: Failure, 429: Failure }
    }
  }, async () => ok(await fastify.opsService.status()))
}

export default opsRoutes
