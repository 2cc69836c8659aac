import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import RedisMock from 'ioredis-mock'

declare module 'fastify' {
  interface FastifyInstance {
    /** Commands. Keys are namespaced by the configured prefix automatically. */
    redis: Redis
    /** Namespaced channel or key name for the places ioredis does not prefix (pub/sub). */
    redisName: (name: string) => string
    /** False when REDIS_URL=memory: the service runs single-node with in-process state. */
    redisShared: boolean
  }
}

export interface RedisPluginOptions {
  /** `null` for the in-memory single-node mode. */
  url: string | null
  keyPrefix: string
}

/** Timeouts and retries keep a Redis outage from hanging requests: Redis is best effort. */
export const REDIS_CONNECT_TIMEOUT_MS = 2000
export const REDIS_COMMAND_TIMEOUT_MS = 1000
/** Commands queued while disconnected fail after this many reconnect attempts instead of piling up. */
export const REDIS_MAX_RETRIES_PER_REQUEST = 1
/** How long shutdown waits for Redis to answer what was sent (the bus's last publishes, QUIT). */
export const REDIS_QUIT_TIMEOUT_MS = 1000

export function createRedis (url: string | null, keyPrefix: string): Redis {
  if (url === null) {
    // ioredis-mock keeps its data per instance: this is the single-node in-process store.
    return new RedisMock({ keyPrefix }) as unknown as Redis
  }
  return new Redis(url, {
    keyPrefix,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: REDIS_MAX_RETRIES_PER_REQUEST,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
    // Commands issued in one turn of the event loop (a burst of requests' rate-limit hits and
    // event publishes) leave in one write: the per-command syscall is most of their cost.
    enableAutoPipelining: true
  })
}

export default fp<RedisPluginOptions>(async function redisPlugin (fastify, opts) {
  const redis = createRedis(opts.url, opts.keyPrefix)
  redis.on('error', (err: Error) => {
    fastify.log.warn({ err: { message: err.message } }, 'redis error')
  })
  fastify.decorate('redis', redis)
  fastify.decorate('redisShared', opts.url !== null)
  fastify.decorate('redisName', (name: string) => opts.keyPrefix + name)
  fastify.addHook('onClose', async () => {
    // QUIT is answered after every command already sent, so the last events published before
    // shutdown still reach other instances; a Redis that does not answer is cut off.
    if (redis.status !== 'ready') {
      redis.disconnect()
      return
    }
    const cutOff = setTimeout(() => { redis.disconnect() }, REDIS_QUIT_TIMEOUT_MS)
    await redis.quit().catch(() => { redis.disconnect() })
    clearTimeout(cutOff)
  })
}, { name: 'redis' })
