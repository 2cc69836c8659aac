import fp from 'fastify-plugin'
import { createStatementPool } from '../../../db/connection.ts'
import { SEND_LANES, createSendBatcher, type SendBatcher } from './send-batcher.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Group commit for sends (send-batcher.ts), over a multi-statement pool of its own. */
    sendBatcher: SendBatcher
  }
}

/**
 * The send batcher and its pool: one connection per lane, taking the send transaction's
 * multi-statement scripts, in the same pinned sql_mode as every other connection
 * (db/connection.ts; the server checks it before it listens). No other code gets these
 * connections. The pool closes with the app; nothing connects until the first send.
 */
export default fp(async function sendBatcherPlugin (fastify) {
  const pool = createStatementPool(fastify.config.databaseUrl, SEND_LANES)
  fastify.decorate('sendBatcher', createSendBatcher(pool, fastify.meter.sendsCommitted))
  fastify.addHook('onClose', async () => { await pool.end() })
}, { name: 'send-batcher', dependencies: ['metrics'] })
