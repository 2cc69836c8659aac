import type { Redis } from 'ioredis'

// INCR with the expiry set on first use, atomically: a window never loses its TTL.
const FIXED_WINDOW_LUA = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {current, ttl}
`

interface FixedWindowRedis extends Redis {
  parleyFixedWindow: (key: string, windowMs: number) => Promise<[number, number]>
}

/** Counts one hit in `key`'s window: resolves with the hits so far and the window's remaining ms. */
export type FixedWindowCounter = (key: string, windowMs: number) => Promise<[count: number, ttlMs: number]>

/** A fixed-window counter in Redis (one atomic script call per hit), shared by every instance. */
export function fixedWindowCounter (redis: Redis): FixedWindowCounter {
  const client = redis as FixedWindowRedis
  if (typeof client.parleyFixedWindow !== 'function') {
    redis.defineCommand('parleyFixedWindow', { numberOfKeys: 1, lua: FIXED_WINDOW_LUA })
  }
  return async (key, windowMs) => await client.parleyFixedWindow(key, windowMs)
}
