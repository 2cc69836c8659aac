import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Pool as CorePool } from 'mysql2'
import type { Database } from '../../db/database.ts'
import { createDatabase } from '../../db/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    /** The pool under `db`, for its usage figures (metrics, /status). */
    queryPool: CorePool
  }
}

export interface DbPluginOptions {
  databaseUrl: string
  poolSize: number
}

/**
 * Kysely over a mysql2 pool; it closes with the app. Every connection runs in a pinned sql_mode
 * (db/connection.ts); the server checks it before it listens. The send batcher has a pool of
 * its own (chat/send-batcher-plugin.ts). Nothing connects here, so the app builds without a
 * database (export scripts).
 */
export default fp<DbPluginOptions>(async function dbPlugin (fastify, opts) {
  const { db, pool } = createDatabase(opts.databaseUrl, opts.poolSize)
  fastify.decorate('db', db)
  fastify.decorate('queryPool', pool)
  fastify.addHook('onClose', async () => {
    await db.destroy()
  })
}, { name: 'db' })
