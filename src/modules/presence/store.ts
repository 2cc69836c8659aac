import { presenceConnectionsKey as connsKey, presenceUserKey as userKey, typingKey } from '../../lib/store/keys.ts'
import type { RedisConnection } from '../../lib/store/store.ts'

/*
 * Presence and typing state (DESIGN §6), shared by every instance in Redis, with TTLs so a
 * crashed instance's state fades on its own. Keys (names in src/lib/store/keys.ts):
 *
 *   presence:{u<userId>}:c   ZSET connection id → expiry (ms); refreshed by the heartbeat
 *   presence:{u<userId>}:u   HASH status, device, visible ('1' while shown online), seen (ms)
 *   typing:<groupId>         HASH user id → "<expiresAt>:<startedAt>:<username>"
 *
 * Each operation is one round trip: a script where it reads and writes, a MULTI or commands
 * sent together (auto-pipelined) otherwise. A script touches one user's two keys, which share
 * the hash tag {u<userId>}, so on a Redis Cluster they sit in one slot; a user is online when
 * their connection set has a live entry (no global online set, which would put every user's
 * script on one slot). Every `now` comes from the caller's clock, so the scripts and the timers
 * that call them agree on time. The in-process implementation (memory-store.ts) keeps the same
 * state.
 */

/** Presence state outlives a session this long. */
export const USER_STATE_TTL_MS = 7 * 24 * 3600 * 1000

export interface ConnectionPolicy {
  /** A connection entry lives this long without a heartbeat. */
  connectionTtlMs: number
  maxConnectionsPerUser: number
}

export interface ConnectOutcome {
  accepted: boolean
  /** The user's live connections before this one. */
  openConnections: number
  /** The user was already shown online (another connection, or within the grace). */
  wasVisible: boolean
}

/** The user went offline after the grace: when they were last seen, and whether to announce it. */
export interface WentOffline {
  seen: number
  /** False when the user's chosen status was already "offline": nobody saw them online. */
  announce: boolean
}

/** What GET presence needs of one member. */
export interface MemberState {
  /** A live connection anywhere. */
  live: boolean
  status: string | null
  device: string | null
  /** Shown online: connected, or within the grace after the last sign of life. */
  visible: boolean
  seen: number | null
}

export interface TypingEntry {
  userId: number
  username: string
  startedAt: number
  expiresAt: number
}

export interface PresenceStore extends TypingStore {
  /** Registers a connection unless the user is at their limit; shows the user online. */
  connect: (userId: number, connectionId: string, now: number, policy: ConnectionPolicy) => Promise<ConnectOutcome>
  /** Removes a connection; the last one records when the user was seen. Resolves with the live count left. */
  disconnect: (userId: number, connectionId: string, now: number) => Promise<number>
  /** After the grace: hides the user unless a connection or a sign of life came meanwhile. */
  goOffline: (userId: number, now: number, graceMs: number) => Promise<WentOffline | null>
  /** Extends this instance's connections (user id → connection ids) to `now + connectionTtlMs`. */
  refresh: (connections: ReadonlyMap<number, ReadonlySet<string>>, now: number, connectionTtlMs: number) => Promise<void>
  /** Sets the status the user shows, as a sign of life at `seen`. */
  setStatus: (userId: number, status: string, device: string | undefined, seen: number) => Promise<void>
  /** The state of each user, in order. */
  members: (userIds: number[], now: number) => Promise<MemberState[]>
  /** The users among `userIds` with a live connection. */
  onlineAmong: (userIds: number[], now: number) => Promise<Set<number>>
}

export interface TypingStore {
  /** Starts or refreshes a typing indicator; the group's entry outlives it by `keepMs`. */
  startTyping: (groupId: string, entry: TypingEntry, keepMs: number) => Promise<void>
  /** Ends a typing indicator; true when there was one. */
  stopTyping: (groupId: string, userId: number) => Promise<boolean>
  /** Ends a typing indicator that was not refreshed since (by any instance); true when it ended. */
  expireTyping: (groupId: string, userId: number, now: number) => Promise<boolean>
  /** The group's typing entries, expired ones included (the caller filters by its clock). */
  typers: (groupId: string) => Promise<TypingEntry[]>
}

// Registers a connection unless the user is at their limit. → {accepted, countBefore, wasVisible}
const CONNECT_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) and redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return {0, n, 0} end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
local visible = redis.call('HGET', KEYS[2], 'visible')
if visible ~= '1' then redis.call('HSET', KEYS[2], 'visible', '1', 'status', 'online') end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if visible == '1' then return {1, n, 1} end
return {1, n, 0}
`

// Removes a connection; when it was the user's last, records when they were last seen. → live count
const DISCONNECT_LUA = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then
  redis.call('HSET', KEYS[2], 'seen', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return n
`

// After the grace: hides the user unless a connection or a sign of life came meanwhile.
// → {0} nothing to do, {1, seen} went offline, {2, seen} went offline but already appeared offline
const GO_OFFLINE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return {0, 0} end
if redis.call('HGET', KEYS[2], 'visible') ~= '1' then return {0, 0} end
local seen = tonumber(redis.call('HGET', KEYS[2], 'seen') or '0')
if tonumber(ARGV[1]) - seen < tonumber(ARGV[2]) then return {0, 0} end
redis.call('HSET', KEYS[2], 'visible', '0')
if redis.call('HGET', KEYS[2], 'status') == 'offline' then return {2, seen} end
return {1, seen}
`

// Ends a typing indicator that was not refreshed (on this or any instance). → 1 when it ended
const TYPING_EXPIRE_LUA = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local expiresAt = tonumber(string.match(current, '^(%d+)'))
if expiresAt ~= nil and expiresAt > tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`

type PresenceRedis = RedisConnection & {
  parleyPresenceConnect: (conns: string, user: string, connectionId: string, now: number, expiry: number, max: number, keepMs: number) => Promise<[number, number, number]>
  parleyPresenceDisconnect: (conns: string, user: string, connectionId: string, now: number, keepMs: number) => Promise<number>
  parleyPresenceOffline: (conns: string, user: string, now: number, graceMs: number) => Promise<[number, number]>
  parleyTypingExpire: (key: string, userId: number, now: number) => Promise<number>
}

/** A typing entry's value: "<expiresAt>:<startedAt>:<username>". */
const TYPING_VALUE = /^(\d+):(\d+):(.*)$/s

/** Presence in Redis: the scripts above, defined once per connection. */
export function redisPresenceStore (client: RedisConnection): PresenceStore {
  const redis = client as PresenceRedis
  if (typeof redis.parleyPresenceConnect !== 'function') {
    redis.defineCommand('parleyPresenceConnect', { numberOfKeys: 2, lua: CONNECT_LUA })
    redis.defineCommand('parleyPresenceDisconnect', { numberOfKeys: 2, lua: DISCONNECT_LUA })
    redis.defineCommand('parleyPresenceOffline', { numberOfKeys: 2, lua: GO_OFFLINE_LUA })
    redis.defineCommand('parleyTypingExpire', { numberOfKeys: 1, lua: TYPING_EXPIRE_LUA })
  }
  return { ...redisConnectionState(redis), ...redisTypingStore(redis) }
}

/** Connections and shown status. */
function redisConnectionState (redis: PresenceRedis): Omit<PresenceStore, keyof TypingStore> {
  return {
    async connect (userId, connectionId, now, policy) {
      const [ok, count, wasVisible] = await redis.parleyPresenceConnect(
        connsKey(userId), userKey(userId), connectionId,
        now, now + policy.connectionTtlMs, policy.maxConnectionsPerUser, USER_STATE_TTL_MS)
      return { accepted: ok === 1, openConnections: count, wasVisible: wasVisible === 1 }
    },

    async disconnect (userId, connectionId, now) {
      return await redis.parleyPresenceDisconnect(connsKey(userId), userKey(userId), connectionId, now, USER_STATE_TTL_MS)
    },

    async goOffline (userId, now, graceMs) {
      const [outcome, seen] = await redis.parleyPresenceOffline(connsKey(userId), userKey(userId), now, graceMs)
      return outcome === 0 ? null : { seen, announce: outcome === 1 }
    },

    async refresh (connections, now, connectionTtlMs) {
      const expiry = now + connectionTtlMs
      // Users' keys lie on different cluster nodes: separate commands, auto-pipelined per node.
      // A user whose instance died without saying goodbye fades with their set's expiry.
      const sent: Array<Promise<unknown>> = []
      for (const [userId, connectionIds] of connections) {
        for (const connectionId of connectionIds) sent.push(redis.zadd(connsKey(userId), expiry, connectionId))
        sent.push(redis.pexpireat(connsKey(userId), expiry))
      }
      await Promise.all(sent)
    },

    async setStatus (userId, status, device, seen) {
      await redis.multi()
        .hset(userKey(userId), { status, visible: '1', seen: String(seen), ...(device !== undefined ? { device } : {}) })
        .pexpire(userKey(userId), USER_STATE_TTL_MS)
        .exec()
    },

    async members (userIds, now) {
      return await Promise.all(userIds.map(async (userId): Promise<MemberState> => {
        const [live, [status, device, visible, seen]] = await Promise.all([
          redis.zcount(connsKey(userId), now, '+inf'),
          redis.hmget(userKey(userId), 'status', 'device', 'visible', 'seen')
        ])
        return {
          live: live > 0,
          status: status ?? null,
          device: device ?? null,
          visible: visible === '1',
          seen: seen !== null && seen !== undefined ? Number(seen) : null
        }
      }))
    },

    async onlineAmong (userIds, now) {
      // A connection expiring exactly at `now` has lapsed.
      const live = await Promise.all(userIds.map(async (userId) => await redis.zcount(connsKey(userId), `(${now}`, '+inf')))
      return new Set(userIds.filter((_userId, i) => (live[i] ?? 0) > 0))
    }
  }
}

function redisTypingStore (redis: PresenceRedis): TypingStore {
  return {
    async startTyping (groupId, entry, keepMs) {
      await redis.multi()
        .hset(typingKey(groupId), String(entry.userId), `${entry.expiresAt}:${entry.startedAt}:${entry.username}`)
        .pexpire(typingKey(groupId), keepMs)
        .exec()
    },

    async stopTyping (groupId, userId) {
      return await redis.hdel(typingKey(groupId), String(userId)) > 0
    },

    async expireTyping (groupId, userId, now) {
      return await redis.parleyTypingExpire(typingKey(groupId), userId, now) === 1
    },

    async typers (groupId) {
      const entries = await redis.hgetall(typingKey(groupId))
      const typers: TypingEntry[] = []
      for (const [field, value] of Object.entries(entries)) {
        const match = TYPING_VALUE.exec(value)
        const userId = Number(field)
        if (match === null || !Number.isInteger(userId)) continue
        typers.push({ userId, expiresAt: Number(match[1]), startedAt: Number(match[2]), username: match[3] ?? '' })
      }
      return typers
    }
  }
}
