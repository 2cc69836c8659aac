import { Kysely, MysqlDialect, Migrator, type MigrationResultSet } from 'kysely'
import { createConnection, createPool, type Pool, type PoolOptions } from 'mysql2'
import type { Pool as PromisePool } from 'mysql2/promise'
import type { Database } from './database.ts'
import { migrations } from './migrations/index.ts'

function poolOptions (databaseUrl: string, connectionLimit: number): PoolOptions {
  return {
    uri: databaseUrl,
    connectionLimit,
    // Dates travel as UTC both ways; BOOLEAN columns come back as numbers otherwise.
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    typeCast (field, next) {
      if (field.type === 'TINY' && field.length === 1) {
        const value = field.string()
        return value === null ? null : value === '1'
      }
      return next()
    }
  }
}

/** A Kysely instance over a mysql2 pool. */
export function createDatabase (databaseUrl: string, connectionLimit = 10): { db: Kysely<Database>, pool: Pool } {
  const pool = createPool(poolOptions(databaseUrl, connectionLimit))
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) })
  return { db, pool }
}

/**
 * A mysql2 pool (promise API) whose connections take several statements in one round trip, for
 * the few hot paths written as fixed statement scripts (the send transaction). Only ever given
 * SQL whose values are all placeholders.
 */
export function createStatementPool (databaseUrl: string, connectionLimit: number): PromisePool {
  return createPool({ ...poolOptions(databaseUrl, connectionLimit), multipleStatements: true }).promise()
}

/** The database name of a mysql:// URL. */
export function databaseNameOf (databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(name)) throw new Error(`DATABASE_URL must name a database (letters, digits, _ and $): got "${name}"`)
  return name
}

/** Creates the database of the URL if it does not exist yet, with utf8mb4 throughout. */
export async function ensureDatabase (databaseUrl: string): Promise<void> {
  const name = databaseNameOf(databaseUrl)
  const server = new URL(databaseUrl)
  server.pathname = '/'
  const connection = createConnection({ uri: server.toString() }).promise()
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  } finally {
    await connection.end()
  }
}

/** Runs every pending migration; throws with the failing migration's error. */
export async function migrateToLatest (db: Kysely<Database>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')
    const cause = result.error instanceof Error ? result.error : new Error(String(result.error))
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause.message}`, { cause })
  }
  return result
}

/** Creates the database if needed and brings it to the latest migration. */
export async function prepareDatabase (databaseUrl: string): Promise<MigrationResultSet> {
  await ensureDatabase(databaseUrl)
  const { db } = createDatabase(databaseUrl, 1)
  try {
    return await migrateToLatest(db)
  } finally {
    await db.destroy()
  }
}
