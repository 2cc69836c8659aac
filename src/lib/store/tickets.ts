import type { MemoryTable } from './memory-table.ts'
import type { RedisConnection } from './store.ts'

/** Values that can be read once (WebSocket tickets): whoever takes one first gets it. */
export interface SingleUseValues {
  /** Stores a value under `key` for `ttlMs`. */
  put: (key: string, value: string, ttlMs: number) => Promise<void>
  /** The value, removed in the same step, or null when it is unknown, expired or already taken. */
  take: (key: string) => Promise<string | null>
}

/** In Redis: SET with PX, and GETDEL so two instances racing with one value cannot both get it. */
export function redisSingleUseValues (redis: RedisConnection): SingleUseValues {
  return {
    async put (key, value, ttlMs) {
      await redis.set(key, value, 'PX', ttlMs)
    },
    async take (key) {
      return await redis.getdel(key)
    }
  }
}

/** In this process: one synchronous read-and-delete, which nothing can interleave with. */
export function memorySingleUseValues (table: MemoryTable): SingleUseValues {
  return {
    async put (key, value, ttlMs) {
      table.set(key, value, table.now() + ttlMs)
    },
    async take (key) {
      const value = table.get<string>(key)
      if (value === undefined) return null
      table.delete(key)
      return value
    }
  }
}

/** Short-lived first-come claims (the spam rule's recent content): the first value set wins. */
export interface Claims {
  /** Sets `value` under `key` for `ttlMs` unless a live claim exists; returns that claim's value, or null when this call set it. */
  claim: (key: string, value: string, ttlMs: number) => Promise<string | null>
}

// Atomically: the value of a live claim if there is one, else a new claim with its expiry.
const CLAIM_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`

type ClaimRedis = RedisConnection & {
  parleyClaim: (key: string, value: string, ttlMs: number) => Promise<string | null>
}

/** In Redis: one script call, so instances racing for one key agree on its first value. */
export function redisClaims (redis: RedisConnection): Claims {
  const client = redis as ClaimRedis
  if (typeof client.parleyClaim !== 'function') {
    redis.defineCommand('parleyClaim', { numberOfKeys: 1, lua: CLAIM_LUA })
  }
  return {
    async claim (key, value, ttlMs) {
      return await client.parleyClaim(key, value, ttlMs)
    }
  }
}

/** In this process: a synchronous read-then-set, which nothing can interleave with. */
export function memoryClaims (table: MemoryTable): Claims {
  return {
    async claim (key, value, ttlMs) {
      const existing = table.get<string>(key)
      if (existing !== undefined) return existing
      table.set(key, value, table.now() + ttlMs)
      return null
    }
  }
}
