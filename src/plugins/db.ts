import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Pool } from 'mysql2/promise'
import type { Pool as CorePool } from 'mysql2'
import type { Database } from '../../db/database.ts'
import { createDatabase, createStatementPool } from '../../db/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    /** Connections that take multi-statement scripts of placeholders: the send transaction's. */
    statementPool: Pool
    /** The pool under `db`, for its usage figures (metrics, /status). */
    queryPool: CorePool
  }
}

export interface DbPluginOptions {
  databaseUrl: string
  poolSize: number
  /** Connections of the statement pool (one per send lane). */
  statementPoolSize: number
}

/**
 * Kysely over a mysql2 pool, and the statement pool beside it; both close with the app. Every
 * connection of both runs in a pinned sql_mode (db/connection.ts); the server checks it before
 * it listens. Nothing connects here, so the app builds without a database (export scripts).
 */
export default fp<DbPluginOptions>(async function dbPlugin (fastify, opts) {
  const { db, pool } = createDatabase(opts.databaseUrl, opts.poolSize)
  const statementPool = createStatementPool(opts.databaseUrl, opts.statementPoolSize)
  fastify.decorate('db', db)
  fastify.decorate('statementPool', statementPool)
  fastify.decorate('queryPool', pool)
  fastify.addHook('onClose', async () => {
    await Promise.all([db.destroy(), statementPool.end()])
  })
}, { name: 'db' })
