import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { ClaimRecentContent } from './spam.ts'

// Atomically: the value of a live claim if there is one, else a new claim with its expiry.
const CLAIM_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`

interface ClaimRedis extends Redis {
  parleyClaimContent: (key: string, value: string, windowMs: number) => Promise<string | null>
}

/** The one spelling of the duplicate rule's key (under the Redis key prefix). */
export const recentContentKey = (groupId: string, senderId: number, contentHash: string): string =>
  `spam:recent:${groupId}:${senderId}:${contentHash}`

/**
 * The duplicate rule's shared state on Redis: one key per (group, sender, content hash) that
 * lives for the window, holding the clientMessageId of the send that set it ('' for none), one
 * script call per send. Redis is best effort: when it does not answer, the rule lets the
 * message through rather than refusing sends. A small function, so it can move behind the
 * store interface as it is.
 */
export function redisRecentContent (redis: Redis, log: FastifyBaseLogger): ClaimRecentContent {
  const client = redis as ClaimRedis
  if (typeof client.parleyClaimContent !== 'function') {
    redis.defineCommand('parleyClaimContent', { numberOfKeys: 1, lua: CLAIM_LUA })
  }
  return async ({ groupId, senderId, contentHash, clientMessageId, windowMs }) => {
    let existing: string | null
    try {
      existing = await client.parleyClaimContent(recentContentKey(groupId, senderId, contentHash), clientMessageId ?? '', windowMs)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'duplicate-content check unavailable; message let through')
      return { repeated: false }
    }
    if (existing === null) return { repeated: false }
    return { repeated: clientMessageId === null || existing !== clientMessageId }
  }
}
