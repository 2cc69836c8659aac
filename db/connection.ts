import { Kysely, MysqlDialect, Migrator, sql, type MigrationResultSet } from 'kysely'
import { createConnection, createPool, type Pool, type PoolOptions } from 'mysql2'
import type { Pool as PromisePool, RowDataPacket } from 'mysql2/promise'
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

/**
 * The sql_mode of every pooled connection: MySQL 8's default, whatever the server's global
 * mode says. mysql2 escapes strings with backslashes (`connection.escape()`, and the `?`
 * placeholders Kysely's queries are formatted with) and cannot know the server's mode: under
 * NO_BACKSLASH_ESCAPES an escaped quote would end the string literal and the rest of a value
 * would run as SQL. The pinned mode has no NO_BACKSLASH_ESCAPES and no ANSI_QUOTES, and keeps
 * the strict flags production runs with, so tests on MariaDB enforce what MySQL 8 does.
 */
export const SQL_MODE = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'

/**
 * A mysql2 pool whose every new connection has its sql_mode pinned before anything else runs
 * on it: the pool emits 'connection' before it hands a new connection out, and a connection
 * runs its commands in order, so the SET is always the connection's first command. A
 * connection that cannot be pinned is destroyed, failing whatever was queued behind the SET.
 */
function createPinnedPool (options: PoolOptions): Pool {
  const pool = createPool(options)
  pool.on('connection', (connection) => {
    connection.query(`SET SESSION sql_mode = '${SQL_MODE}'`, (err) => {
      if (err !== null) connection.destroy()
    })
  })
  return pool
}

/** The sql_mode a connection runs in, as the server reports it. */
export async function sessionSqlMode (db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ mode: string }>`SELECT @@SESSION.sql_mode AS mode`.execute(db)
  return rows[0]?.mode ?? ''
}

/**
 * Refuses to go on unless both pools run in the pinned sql_mode (checked on one connection of
 * each; every other one is pinned the same way when it opens).
 */
export async function assertSqlModePinned (db: Kysely<Database>, statementPool: PromisePool): Promise<void> {
  const [rows] = await statementPool.query<Array<RowDataPacket & { mode: string }>>('SELECT @@SESSION.sql_mode AS mode')
  const expected = SQL_MODE.split(',').sort().join(',')
  for (const mode of [await sessionSqlMode(db), rows[0]?.mode ?? '']) {
    if (mode.split(',').sort().join(',') !== expected) {
      throw new Error(`The database connections' sql_mode could not be pinned to ${SQL_MODE} (it is ${mode})`)
    }
  }
}

/** A Kysely instance over a mysql2 pool. */
export function createDatabase (databaseUrl: string, connectionLimit = 10): { db: Kysely<Database>, pool: Pool } {
  const pool = createPinnedPool(poolOptions(databaseUrl, connectionLimit))
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) })
  return { db, pool }
}

/**
 * A mysql2 pool (promise API) whose connections take several statements in one round trip, for
 * the few hot paths written as fixed statement scripts (the send transaction). Their values are
 * literals: hex, digits, and strings escaped by mysql2, which the pinned sql_mode keeps safe.
 */
export function createStatementPool (databaseUrl: string, connectionLimit: number): PromisePool {
  // No `trace`: mysql2's promise API otherwise captures a stack trace on every query, 1.7% of
  // the server's busy time in the fanout bench (two queries per send transaction); a failed
  // send still carries the server's error code and message.
  return createPinnedPool({ ...poolOptions(databaseUrl, connectionLimit), multipleStatements: true, trace: false }).promise()
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
