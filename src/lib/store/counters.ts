import type { MemoryTable } from './memory-table.ts'
import type { RedisConnection } from './store.ts'

/** A fixed window's hits so far and the milliseconds until it ends. */
export interface WindowCount {
  count: number
  ttlMs: number
}

/**
 * Fixed-window counters (rate limits, failed sign-ins): a window opens at its first hit and
 * ends `windowMs` later, whatever happens in between.
 */
export interface WindowCounters {
  /** Counts one hit in the key's window, opening the window if none is open. */
  hit: (key: string, windowMs: number) => Promise<WindowCount>
  /** The open window's count without counting, or null when none is open. */
  peek: (key: string) => Promise<WindowCount | null>
  /** Ends the key's window: the next hit starts from zero. */
  reset: (key: string) => Promise<void>
}

// INCR with the expiry set on first use, atomically: a window never loses its TTL.
const FIXED_WINDOW_LUA = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {current, ttl}
`

type FixedWindowRedis = RedisConnection & {
  parleyFixedWindow: (key: string, windowMs: number) => Promise<[number, number]>
}

/** Counters in Redis, shared by every instance: one script call per hit, a string key with a TTL. */
export function redisWindowCounters (redis: RedisConnection): WindowCounters {
  const client = redis as FixedWindowRedis
  if (typeof client.parleyFixedWindow !== 'function') {
    redis.defineCommand('parleyFixedWindow', { numberOfKeys: 1, lua: FIXED_WINDOW_LUA })
  }
  return {
    async hit (key, windowMs) {
      const [count, ttlMs] = await client.parleyFixedWindow(key, windowMs)
      return { count, ttlMs }
    },
    async peek (key) {
      const result = await redis.multi().get(key).pttl(key).exec()
      const count = Number(result?.[0]?.[1] ?? 0)
      const ttlMs = Number(result?.[1]?.[1] ?? -1)
      return count > 0 ? { count, ttlMs: ttlMs > 0 ? ttlMs : 0 } : null
    },
    async reset (key) {
      await redis.del(key)
    }
  }
}

/** Counters in this process (REDIS_URL=memory): the same windows on the in-process table. */
export function memoryWindowCounters (table: MemoryTable): WindowCounters {
  return {
    async hit (key, windowMs) {
      const count = (table.get<number>(key) ?? 0) + 1
      const expiresAt = table.expiryOf(key) ?? table.now() + windowMs
      table.set(key, count, expiresAt)
      return { count, ttlMs: expiresAt - table.now() }
    },
    async peek (key) {
      const count = table.get<number>(key)
      const expiresAt = table.expiryOf(key)
      return count === undefined || expiresAt === null ? null : { count, ttlMs: expiresAt - table.now() }
    },
    async reset (key) {
      table.delete(key)
    }
  }
}
