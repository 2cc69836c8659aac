import type { Redis } from 'ioredis'
import type { MemoryTable } from './memory-table.ts'

/** Values that can be read once (WebSocket tickets): whoever takes one first gets it. */
export interface SingleUseValues {
  /** Stores a value under `key` for `ttlMs`. */
  put: (key: string, value: string, ttlMs: number) => Promise<void>
  /** The value, removed in the same step, or null when it is unknown, expired or already taken. */
  take: (key: string) => Promise<string | null>
}

/** In Redis: SET with PX, and GETDEL so two instances racing with one value cannot both get it. */
export function redisSingleUseValues (redis: Redis): SingleUseValues {
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
