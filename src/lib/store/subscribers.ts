import type { Clock } from '../clock.ts'
import type { MemoryTable } from './memory-table.ts'
import { subscribersKey } from './keys.ts'
import type { RedisConnection } from './store.ts'

/** One connection's subscription to one group. */
export interface Subscription {
  groupId: string
  connectionId: string
}

/**
 * Which connections are subscribed to a group on every instance, for `subscriberCount`. An
 * entry lives `ttlMs` unless refreshed, so the subscriptions of an instance that died fade.
 */
export interface SubscriberSets {
  /** Adds the connection to the group's set; resolves with the set's size, this one included. */
  add: (subscription: Subscription, ttlMs: number) => Promise<number>
  remove: (subscription: Subscription) => Promise<void>
  /** Extends the life of the given subscriptions by `ttlMs` from now. */
  refresh: (subscriptions: Iterable<Subscription>, ttlMs: number) => Promise<void>
}

/** A ZSET per group (`subs:<groupId>`): connection id → expiry (ms); one MULTI per join. */
export function redisSubscriberSets (redis: RedisConnection, clock: Clock): SubscriberSets {
  return {
    async add ({ groupId, connectionId }, ttlMs) {
      const now = clock.now()
      const key = subscribersKey(groupId)
      const results = await redis.multi()
        .zremrangebyscore(key, '-inf', now)
        .zadd(key, now + ttlMs, connectionId)
        .pexpire(key, ttlMs)
        .zcard(key)
        .exec()
      const count = results?.[3]?.[1]
      if (typeof count !== 'number') throw new Error('subscriber count unavailable')
      return count
    },
    async remove ({ groupId, connectionId }) {
      await redis.zrem(subscribersKey(groupId), connectionId)
    },
    async refresh (subscriptions, ttlMs) {
      const expiry = clock.now() + ttlMs
      // Separate commands, not one pipeline: the groups' keys lie on different cluster nodes, and
      // auto-pipelining still sends what one turn issues in one write per node.
      const sent: Array<Promise<unknown>> = []
      for (const { groupId, connectionId } of subscriptions) {
        sent.push(redis.zadd(subscribersKey(groupId), expiry, connectionId), redis.pexpire(subscribersKey(groupId), ttlMs))
      }
      await Promise.all(sent)
    }
  }
}

type Members = Map<string, number>

/** The same sets in this process: a Map per group of connection id → expiry. */
export function memorySubscriberSets (table: MemoryTable): SubscriberSets {
  /** The group's live members, with the expired ones dropped. */
  function liveMembers (key: string, now: number): Members {
    const members = table.get<Members>(key) ?? new Map<string, number>()
    for (const [connectionId, expiry] of members) if (expiry <= now) members.delete(connectionId)
    return members
  }

  return {
    async add ({ groupId, connectionId }, ttlMs) {
      const now = table.now()
      const key = subscribersKey(groupId)
      const members = liveMembers(key, now)
      members.set(connectionId, now + ttlMs)
      table.set(key, members, now + ttlMs)
      return members.size
    },
    async remove ({ groupId, connectionId }) {
      const key = subscribersKey(groupId)
      const members = table.get<Members>(key)
      if (members === undefined || !members.delete(connectionId)) return
      if (members.size === 0) table.delete(key)
    },
    async refresh (subscriptions, ttlMs) {
      const expiry = table.now() + ttlMs
      for (const { groupId, connectionId } of subscriptions) {
        const key = subscribersKey(groupId)
        const members = table.get<Members>(key) ?? new Map<string, number>()
        members.set(connectionId, expiry)
        table.set(key, members, expiry)
      }
    }
  }
}
