import type { RedisConnection } from '../lib/store/store.ts'
import type { Clock } from '../lib/clock.ts'
import { audienceKey } from '../lib/store/keys.ts'

/*
 * Who hears a group live, counted without reading its member list (issue 16.4): the send ack's
 * deliveredToCount is the number of other users subscribed to the group on any instance. Each
 * instance registers a user when its first local subscription to the group opens and drops it
 * when the last one closes (LocalGroups counts those); the entry lives a few heartbeats unless
 * refreshed, so an instance that dies (or a removal lost in a Redis outage) fades. Reading the
 * count is O(log n) in Redis, whatever the group's size.
 *
 * One case reads low for a moment: a user subscribed on two instances who leaves one of them
 * is dropped until the other instance's next heartbeat re-registers them.
 */
export interface GroupAudience {
  userJoined: (groupId: string, userId: number) => void
  userLeft: (groupId: string, userId: number) => void
  /** Users subscribed to the group anywhere, `except` (the sender) not counted. */
  countExcept: (groupId: string, except: number) => Promise<number>
  /** Extends this instance's registrations (run every heartbeat). */
  refresh: (subscribed: Iterable<[string, Iterable<number>]>) => Promise<void>
}

/** What this instance knows by itself: on a single node (REDIS_URL=memory) that is everything. */
export interface LocalAudience {
  usersSubscribed: (groupId: string) => number
  isSubscribed: (groupId: string, userId: number) => boolean
}

export function localGroupAudience (local: LocalAudience): GroupAudience {
  return {
    userJoined () {},
    userLeft () {},
    async countExcept (groupId, except) {
      return local.usersSubscribed(groupId) - (local.isSubscribed(groupId, except) ? 1 : 0)
    },
    async refresh () {}
  }
}

export interface RedisAudienceOptions {
  ttlMs: number
  clock: Clock
  /** Redis failed: the count falls back to this instance's own subscribers. */
  onError: (err: Error) => void
}

/** The audience in Redis: a ZSET per group of user id → expiry, shared by every instance. */
export function redisGroupAudience (redis: RedisConnection, local: LocalAudience, options: RedisAudienceOptions): GroupAudience {
  const { ttlMs, clock } = options
  const failed = (err: Error): void => { options.onError(err) }
  return {
    userJoined (groupId, userId) {
      const key = audienceKey(groupId)
      const now = clock.now()
      redis.multi()
        .zremrangebyscore(key, '-inf', now)
        .zadd(key, now + ttlMs, String(userId))
        .pexpire(key, ttlMs)
        .exec()
        .catch(failed)
    },
    userLeft (groupId, userId) {
      redis.zrem(audienceKey(groupId), String(userId)).catch(failed)
    },
    async countExcept (groupId, except) {
      const key = audienceKey(groupId)
      const now = clock.now()
      try {
        const [count, exceptExpiry] = await Promise.all([
          redis.zcount(key, `(${now}`, '+inf'),
          redis.zscore(key, String(except))
        ])
        return count - (exceptExpiry !== null && Number(exceptExpiry) > now ? 1 : 0)
      } catch (err) {
        failed(err as Error)
        return await localGroupAudience(local).countExcept(groupId, except)
      }
    },
    async refresh (subscribed) {
      const expiry = clock.now() + ttlMs
      // One command per key, not one pipeline: on a Redis Cluster the groups' keys live on
      // different nodes, and ioredis still writes the commands back to back.
      const writes: Array<Promise<unknown>> = []
      for (const [groupId, userIds] of subscribed) {
        const members = [...userIds].flatMap((userId) => [expiry, String(userId)])
        if (members.length === 0) continue
        const key = audienceKey(groupId)
        writes.push(redis.zadd(key, ...members), redis.pexpire(key, ttlMs))
      }
      await Promise.all(writes)
    }
  }
}
