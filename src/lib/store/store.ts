import { Cluster, Redis } from 'ioredis'
import type { Clock } from '../clock.ts'
import { clusterBusTransport, redisBusTransport, type BusTransport } from './bus-transport.ts'
import { memoryWindowCounters, redisWindowCounters, type WindowCounters } from './counters.ts'
import { MemoryTable, type MemoryTableOptions } from './memory-table.ts'
import { memorySubscriberSets, redisSubscriberSets, type SubscriberSets } from './subscribers.ts'
import { memoryClaims, memorySingleUseValues, redisClaims, redisSingleUseValues, type Claims, type SingleUseValues } from './tickets.ts'
import { parseClusterUrl } from './redis-url.ts'

/*
 * The shared state of DESIGN §6 — rate limits, failed sign-ins, WebSocket tickets, spam claims, subscriber
 * counts, presence and typing, the bus — behind operations named for what they do, with two
 * implementations: Redis, shared by every instance, and an in-process one for a single node
 * (REDIS_URL=memory). Areas with operations of their own (presence) build them on `backend`.
 */

/**
 * A connection to one Redis or to a Redis Cluster. Every operation of the store works on both:
 * keys a script or a MULTI touches together share a hash tag (one slot), and commands on
 * unrelated keys are sent one by one (auto-pipelined per node), never as one pipeline.
 */
export type RedisConnection = Redis | Cluster

/** Where the state lives. */
export type StoreBackend =
  | { kind: 'redis', redis: RedisConnection }
  | { kind: 'memory', table: MemoryTable }

export interface Store {
  readonly backend: StoreBackend
  readonly counters: WindowCounters
  readonly tickets: SingleUseValues
  readonly claims: Claims
  readonly subscribers: SubscriberSets
  /** Cross-instance delivery for the bus; null on a single node. */
  readonly busTransport: BusTransport | null
  /** 'up' when Redis answers (rejects when it does not), 'memory' on a single node. */
  check: () => Promise<'up' | 'memory'>
  close: () => Promise<void>
}

/** Timeouts and retries keep a Redis outage from hanging requests: Redis is best effort. */
export const REDIS_CONNECT_TIMEOUT_MS = 2000
export const REDIS_COMMAND_TIMEOUT_MS = 1000
/** Commands queued while disconnected fail after this many reconnect attempts instead of piling up. */
export const REDIS_MAX_RETRIES_PER_REQUEST = 1
/** How long shutdown waits for Redis to answer what was sent (the bus's last publishes, QUIT). */
export const REDIS_QUIT_TIMEOUT_MS = 1000

const CLIENT_OPTIONS = {
  connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  maxRetriesPerRequest: REDIS_MAX_RETRIES_PER_REQUEST,
  retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000)
} as const

/**
 * The connection REDIS_URL names: one Redis, or a Redis Cluster (`redis+cluster://h1:p1,h2:p2`).
 * Commands issued in one turn of the event loop (a burst of requests' rate-limit hits and event
 * publishes) leave in one write per node: the per-command syscall is most of their cost.
 */
export function createRedis (url: string, keyPrefix: string): RedisConnection {
  const cluster = parseClusterUrl(url)
  if (cluster === null) return new Redis(url, { ...CLIENT_OPTIONS, keyPrefix, lazyConnect: false, enableAutoPipelining: true })
  return new Cluster(cluster.nodes, {
    keyPrefix,
    enableAutoPipelining: true,
    clusterRetryStrategy: CLIENT_OPTIONS.retryStrategy,
    slotsRefreshTimeout: REDIS_CONNECT_TIMEOUT_MS,
    redisOptions: {
      ...CLIENT_OPTIONS,
      ...(cluster.username !== undefined ? { username: cluster.username } : {}),
      ...(cluster.password !== undefined ? { password: cluster.password } : {}),
      ...(cluster.tls ? { tls: {} } : {})
    }
  })
}

export interface RedisStoreOptions {
  url: string
  /** Prefix of every key and channel (REDIS_KEY_PREFIX). */
  keyPrefix: string
  clock: Clock
  onError: (err: Error, source: 'commands' | 'subscriber') => void
}

/**
 * Resolves once a cluster client has learnt the slots, or after `timeoutMs` whatever its state:
 * a cluster down at start does not stop the start, as one Redis down does not.
 */
export async function untilReady (redis: RedisConnection, timeoutMs: number): Promise<void> {
  if (!(redis instanceof Cluster) || redis.status === 'ready') return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    redis.once('ready', done)
  })
}

/** The store every instance shares, in Redis. */
export function createRedisStore (options: RedisStoreOptions): Store {
  const redis = createRedis(options.url, options.keyPrefix)
  redis.on('error', (err: Error) => { options.onError(err, 'commands') })
  const onSubscriberError = (err: Error): void => { options.onError(err, 'subscriber') }
  const busTransport = redis instanceof Cluster
    ? clusterBusTransport(redis, options.keyPrefix, onSubscriberError)
    : redisBusTransport(redis, options.keyPrefix, onSubscriberError)
  return {
    backend: { kind: 'redis', redis },
    counters: redisWindowCounters(redis),
    tickets: redisSingleUseValues(redis),
    claims: redisClaims(redis),
    subscribers: redisSubscriberSets(redis, options.clock),
    busTransport,
    async check () {
      await redis.ping()
      return 'up'
    },
    async close () {
      busTransport.close()
      // QUIT is answered after every command already sent, so the last events published before
      // shutdown still reach other instances; a Redis that does not answer is cut off.
      if (redis.status !== 'ready') {
        redis.disconnect()
        return
      }
      const cutOff = setTimeout(() => { redis.disconnect() }, REDIS_QUIT_TIMEOUT_MS)
      await redis.quit().catch(() => { redis.disconnect() })
      clearTimeout(cutOff)
    }
  }
}

/** A single node's store, in this process: expired entries swept, size bounded (see MemoryTable). */
export function createMemoryStore (options: MemoryTableOptions): Store {
  const table = new MemoryTable(options)
  return {
    backend: { kind: 'memory', table },
    counters: memoryWindowCounters(table),
    tickets: memorySingleUseValues(table),
    claims: memoryClaims(table),
    subscribers: memorySubscriberSets(table),
    busTransport: null,
    async check () {
      return 'memory'
    },
    async close () {
      table.close()
    }
  }
}
