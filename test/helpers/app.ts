import { existsSync, readFileSync } from 'node:fs'
import { basename, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createConnection } from 'mysql2/promise'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../../src/config.ts'
import { buildApp, type BuildOptions } from '../../src/app.ts'
import { migrateToLatest, createDatabase } from '../../db/connection.ts'
import { isClusterUrl } from '../../src/lib/store/redis-url.ts'
import { clearClusterKeys } from './redis-cluster.ts'

/** Fixed secrets for tests only: tests must be repeatable. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789'
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64')

const MYSQL_SERVER = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * A short tag that keeps several checkouts of the project on one machine (git worktrees) out of
 * each other's databases: the content of a git-ignored `.test-namespace` file at the root, if any.
 */
export const TEST_NAMESPACE = ((): string => {
  const file = fileURLToPath(new URL('../../.test-namespace', import.meta.url))
  if (!existsSync(file)) return ''
  const tag = readFileSync(file, 'utf8').trim().replace(/[^A-Za-z0-9]+/g, '').slice(0, 6)
  return tag === '' ? '' : `${tag}_`
})()

/** A name for the test file, used for its own database and Redis key prefix. */
export function testName (fileUrl: string): string {
  const path = fileURLToPath(fileUrl)
  const rel = relative(fileURLToPath(new URL('../', import.meta.url)), path)
  const name = (rel.startsWith('..') ? basename(path) : rel).replace(/\.test\.ts$/, '').replace(/[^A-Za-z0-9]+/g, '_')
  return TEST_NAMESPACE + name.slice(-(48 - TEST_NAMESPACE.length))
}

const prepared = new Set<string>()

/** Deletes the keys under the prefix: SCAN on the one Redis, or on every master of a cluster. */
export async function clearRedisKeys (redisUrl: string, keyPrefix: string): Promise<void> {
  if (isClusterUrl(redisUrl)) {
    await clearClusterKeys(redisUrl, keyPrefix)
    return
  }
  const redis = new Redis(redisUrl)
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  redis.disconnect()
}

/** Drops and recreates the file's database and clears its Redis keys, once per process. */
async function prepareTestStores (name: string, redisUrl: string): Promise<{ databaseUrl: string, keyPrefix: string }> {
  const database = `parley_t_${name}`
  const databaseUrl = `${MYSQL_SERVER}/${database}`
  const keyPrefix = `ptest:${name}:`
  if (!prepared.has(name)) {
    const connection = await createConnection({ uri: MYSQL_SERVER })
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await connection.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
    await connection.end()
    const { db } = createDatabase(databaseUrl, 1)
    await migrateToLatest(db)
    await db.destroy()
    if (redisUrl !== 'memory') await clearRedisKeys(redisUrl, keyPrefix)
    prepared.add(name)
  }
  return { databaseUrl, keyPrefix }
}

export interface TestAppOptions extends BuildOptions {
  /** Extra environment variables, as the service would read them. */
  env?: Record<string, string>
}

/**
 * The config a test app runs with: the file's own database and Redis prefix. An `env.REDIS_URL`
 * (a Redis Cluster, say) replaces the test Redis; its keys under the prefix are cleared too.
 */
export async function testConfig (fileUrl: string, env: Record<string, string> = {}): Promise<Config> {
  const { databaseUrl, keyPrefix } = await prepareTestStores(testName(fileUrl), env.REDIS_URL ?? REDIS_URL)
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_POOL_SIZE: '5',
    // Shedding off unless a test turns it on: on a machine shared with other work a slow sample
    // of the event loop must not refuse a test's request.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_HEAP_USED_BYTES: '0',
    OVERLOAD_MAX_IN_FLIGHT: '0',
    ...env
  })
}

/** Builds the real app on the file's own database; it is closed when the test ends. */
export async function buildTestApp (t: Teardown, fileUrl: string, options: TestAppOptions = {}): Promise<FastifyInstance> {
  const config = await testConfig(fileUrl, options.env)
  const app = await buildApp(config, options)
  t.teardown(async () => { await app.close() })
  await app.ready()
  return app
}

/**
 * A Redis client on the app's key prefix, for tests that look at what the Redis store wrote
 * (the app's own connection is the store's, not the test's). Closed when the test ends.
 */
export function appRedis (t: Teardown, app: FastifyInstance): Redis {
  const redis = new Redis(REDIS_URL, { keyPrefix: app.config.redisKeyPrefix })
  t.teardown(() => { redis.disconnect() })
  return redis
}
