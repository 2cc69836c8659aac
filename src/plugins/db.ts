import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { createDatabase } from '../../db/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
  }
}

export interface DbPluginOptions {
  databaseUrl: string
  poolSize: number
}

/** Kysely over a mysql2 pool; the pool closes with the app. */
export default fp<DbPluginOptions>(async function dbPlugin (fastify, opts) {
  const { db } = createDatabase(opts.databaseUrl, opts.poolSize)
  fastify.decorate('db', db)
  fastify.addHook('onClose', async () => {
    await db.destroy()
  })
}, { name: 'db' })
