import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { AuthUser } from '../../plugins/auth.ts'
import {
  DeviceType as DeviceTypeSchema, PresenceStatus as PresenceStatusSchema,
  type DeviceType, type PresenceStatus, type TypingIndicator, type UserPresence
} from '../../../schemas/chat.ts'
import type { PresenceEvent, TypingEvent } from '../../../schemas/events.ts'
import { presenceRepository } from './repository.ts'

/*
 * Presence and typing (DESIGN §6): state lives in Redis so every instance answers the same,
 * with TTLs so a crashed instance's state fades on its own. Keys (under the Redis prefix):
 *
 *   presence:c:<userId>   ZSET connection id → expiry (ms); refreshed by the heartbeat
 *   presence:online       ZSET user id → expiry of their newest live connection
 *   presence:u:<userId>   HASH status, device, visible ('1' while shown online), seen (ms)
 *   typing:<groupId>      HASH user id → "<expiresAt>:<startedAt>:<username>"
 *
 * A user is online while any connection lives on any instance, and for the grace period after
 * the last one closes (or after the last REST presence update). The instance that saw the last
 * connection close keeps a timer; when it fires, a script checks that no connection came back
 * anywhere and only then broadcasts offline and persists users.last_seen_at. If that instance
 * dies first, reads still compute the right status from `seen` + grace; only the broadcast is
 * lost. Redis is best effort: when it fails, this instance answers from what it knows locally.
 */

/** Presence state outlives a session this long in Redis. */
const USER_STATE_TTL_MS = 7 * 24 * 3600 * 1000

// Registers a connection unless the user is at their limit. → {accepted, countBefore, wasVisible}
const CONNECT_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) and redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return {0, n, 0} end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
local visible = redis.call('HGET', KEYS[3], 'visible')
if visible ~= '1' then redis.call('HSET', KEYS[3], 'visible', '1', 'status', 'online') end
redis.call('PEXPIRE', KEYS[3], ARGV[6])
if visible == '1' then return {1, n, 1} end
return {1, n, 0}
`

// Removes a connection; when it was the user's last, records when they were last seen. → live count
const DISCONNECT_LUA = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[3], 'seen', ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
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

interface PresenceRedis extends Redis {
  parleyPresenceConnect: (conns: string, online: string, user: string, connectionId: string, now: number, expiry: number, max: number, userId: number, keepMs: number) => Promise<[number, number, number]>
  parleyPresenceDisconnect: (conns: string, online: string, user: string, connectionId: string, now: number, userId: number, keepMs: number) => Promise<number>
  parleyPresenceOffline: (conns: string, user: string, now: number, graceMs: number) => Promise<[number, number]>
  parleyTypingExpire: (key: string, userId: number, now: number) => Promise<number>
}

const connsKey = (userId: number): string => `presence:c:${userId}`
const userKey = (userId: number): string => `presence:u:${userId}`
const ONLINE_KEY = 'presence:online'
const typingKey = (groupId: string): string => `typing:${groupId}`

/** Who is acting: the fields of the access token presence needs. */
export type PresenceUser = Pick<AuthUser, 'id' | 'username'>

export interface PresenceServiceOptions {
  /** A connection entry lives this long without a heartbeat. */
  connectionTtlMs: number
  /** How often this instance refreshes its connections' entries. */
  heartbeatMs: number
  graceMs: number
  typingTtlMs: number
  maxConnectionsPerUser: number
}

export interface ConnectionAdmission {
  accepted: boolean
  /** The user's live connections anywhere before this one (this instance's when Redis is down). */
  openConnections: number
}

export interface PresenceService {
  /** Registers a WebSocket connection; refuses it when the user is at their connection limit. */
  connectionOpened: (user: PresenceUser, connectionId: string) => Promise<ConnectionAdmission>
  /** Unregisters a connection; the user goes offline after the grace unless one comes back. */
  connectionClosed: (user: PresenceUser, connectionId: string) => Promise<void>
  /** Sets the user's status (all their groups see it) and counts as a sign of life. */
  updatePresence: (user: PresenceUser, groupId: string, status: PresenceStatus, deviceType?: DeviceType) => Promise<{ groupId: string, status: PresenceStatus, deviceType?: DeviceType }>
  /** The group's members with their current status. */
  groupPresence: (groupId: string) => Promise<UserPresence[]>
  /** Starts or stops the user's typing indicator in a group; a start expires after the typing TTL. */
  setTyping: (user: PresenceUser, groupId: string, isTyping: boolean) => Promise<{ groupId: string, isTyping: boolean }>
  /** Who is typing in the group now. */
  typingUsers: (groupId: string) => Promise<TypingIndicator[]>
  /** The users among `userIds` with a live connection on any instance. */
  onlineUserIds: (userIds: number[]) => Promise<Set<number>>
}

declare module 'fastify' {
  interface FastifyInstance {
    presenceService: PresenceService
  }
}

const PRESENCE_STATUSES: readonly PresenceStatus[] = PresenceStatusSchema.anyOf.map((s) => s.const)
const DEVICE_TYPES: readonly DeviceType[] = DeviceTypeSchema.anyOf.map((d) => d.const)
/** A status read back from Redis; anything unexpected reads as online. */
const asStatus = (value: string | null | undefined): PresenceStatus =>
  PRESENCE_STATUSES.find((s) => s === value) ?? 'online'
const asDevice = (value: string | null | undefined): DeviceType | undefined =>
  DEVICE_TYPES.find((d) => d === value)

function createPresenceService (fastify: FastifyInstance, opts: PresenceServiceOptions): PresenceService & { close: () => Promise<void> } {
  const redis = fastify.redis as PresenceRedis
  if (typeof redis.parleyPresenceConnect !== 'function') {
    redis.defineCommand('parleyPresenceConnect', { numberOfKeys: 3, lua: CONNECT_LUA })
    redis.defineCommand('parleyPresenceDisconnect', { numberOfKeys: 3, lua: DISCONNECT_LUA })
    redis.defineCommand('parleyPresenceOffline', { numberOfKeys: 2, lua: GO_OFFLINE_LUA })
    redis.defineCommand('parleyTypingExpire', { numberOfKeys: 1, lua: TYPING_EXPIRE_LUA })
  }
  const repository = presenceRepository(fastify.db)
  const log = fastify.log.child({ module: 'presence' })

  /** This instance's connections by user: the connection limit and liveness when Redis is down. */
  const local = new Map<number, Set<string>>()
  const graceTimers = new Map<number, NodeJS.Timeout>()
  /** Disconnects still being recorded in Redis, by user. */
  const closingByUser = new Map<number, Set<Promise<unknown>>>()
  const typingTimers = new Map<string, { timer: NodeJS.Timeout, startedAt: number }>()
  /** Work started by timers, awaited on close so nothing runs against a closed pool. */
  const inFlight = new Set<Promise<unknown>>()
  let closed = false

  function track<T> (work: Promise<T>): Promise<T> {
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work)).catch(() => {})
    return work
  }

  function warn (err: unknown, what: string): void {
    log.warn({ err: { message: (err as Error).message } }, `${what} failed; answering from local state`)
  }

  async function broadcastPresence (user: PresenceUser, status: PresenceStatus, lastSeenAt: Date): Promise<void> {
    const groupIds = await fastify.groupService.groupIdsOf(user.id)
    for (const groupId of groupIds) {
      const event: PresenceEvent = {
        type: 'chat:presence',
        payload: { groupId, userId: user.id, username: user.username, status, lastSeenAt: lastSeenAt.toISOString() }
      }
      fastify.bus.publish({ groupId }, event)
    }
  }

  function broadcastTyping (user: PresenceUser, groupId: string, isTyping: boolean): void {
    const event: TypingEvent = { type: 'chat:typing', payload: { groupId, userId: user.id, username: user.username, isTyping } }
    fastify.bus.publish({ groupId }, event)
  }

  /** After the grace: broadcast offline unless the user came back anywhere. */
  async function checkOffline (user: PresenceUser): Promise<void> {
    graceTimers.delete(user.id)
    if ((local.get(user.id)?.size ?? 0) > 0) return
    const now = Date.now()
    let outcome: number
    let seen: number
    try {
      [outcome, seen] = await redis.parleyPresenceOffline(connsKey(user.id), userKey(user.id), now, opts.graceMs)
    } catch (err) {
      warn(err, 'presence offline check')
      outcome = 1
      seen = now - opts.graceMs
    }
    if (outcome === 0) return
    // Last seen when the last connection closed (or the last REST update), not when the grace ran out.
    const seenAt = new Date(seen)
    await repository.touchLastSeen(user.id, seenAt)
    if (outcome === 1) await broadcastPresence(user, 'offline', seenAt)
  }

  function scheduleOfflineCheck (user: PresenceUser): void {
    if (closed) return
    clearTimeout(graceTimers.get(user.id))
    // A few ms past the grace so the script's `now - seen >= grace` holds on the same clock.
    const timer = setTimeout(() => {
      track(checkOffline(user)).catch((err: unknown) => { log.error({ err }, 'offline check failed') })
    }, opts.graceMs + 5)
    timer.unref()
    graceTimers.set(user.id, timer)
  }

  async function heartbeat (): Promise<void> {
    if (local.size === 0) return
    const now = Date.now()
    const expiry = now + opts.connectionTtlMs
    const pipeline = redis.pipeline()
    for (const [userId, connections] of local) {
      for (const connectionId of connections) pipeline.zadd(connsKey(userId), expiry, connectionId)
      pipeline.pexpireat(connsKey(userId), expiry)
      pipeline.zadd(ONLINE_KEY, expiry, String(userId))
    }
    // Users of instances that died without saying goodbye.
    pipeline.zremrangebyscore(ONLINE_KEY, '-inf', now)
    await pipeline.exec()
  }
  const heartbeatTimer = setInterval(() => {
    track(heartbeat()).catch((err: unknown) => { warn(err, 'presence heartbeat') })
  }, opts.heartbeatMs)
  heartbeatTimer.unref()

  const service: PresenceService = {
    async connectionOpened (user, connectionId) {
      clearTimeout(graceTimers.get(user.id))
      graceTimers.delete(user.id)
      // A connection of the user closing on this instance frees its slot first: a quick
      // reconnect is never refused for the very connection it replaces.
      const leaving = closingByUser.get(user.id)
      if (leaving !== undefined) await Promise.allSettled([...leaving])
      const before = local.get(user.id)?.size ?? 0
      const now = Date.now()
      let accepted: boolean
      let openConnections: number
      let cameOnline: boolean
      try {
        const [ok, count, wasVisible] = await redis.parleyPresenceConnect(
          connsKey(user.id), ONLINE_KEY, userKey(user.id), connectionId,
          now, now + opts.connectionTtlMs, opts.maxConnectionsPerUser, user.id, USER_STATE_TTL_MS)
        accepted = ok === 1
        openConnections = count
        cameOnline = wasVisible === 0
      } catch (err) {
        warn(err, 'presence connect')
        accepted = before < opts.maxConnectionsPerUser
        openConnections = before
        cameOnline = before === 0
      }
      if (!accepted) return { accepted, openConnections }
      // Read again after the await: another connection of the user may have come or gone.
      const mine = local.get(user.id) ?? new Set<string>()
      mine.add(connectionId)
      local.set(user.id, mine)
      if (cameOnline) {
        track(broadcastPresence(user, 'online', new Date(now))).catch((err: unknown) => { log.error({ err }, 'presence broadcast failed') })
      }
      return { accepted, openConnections }
    },

    async connectionClosed (user, connectionId) {
      const mine = local.get(user.id)
      if (mine === undefined || !mine.delete(connectionId)) return
      if (mine.size === 0) local.delete(user.id)
      let remaining: number
      const disconnect = track(redis.parleyPresenceDisconnect(connsKey(user.id), ONLINE_KEY, userKey(user.id), connectionId, Date.now(), user.id, USER_STATE_TTL_MS))
      const leaving = closingByUser.get(user.id) ?? new Set<Promise<unknown>>()
      leaving.add(disconnect)
      closingByUser.set(user.id, leaving)
      try {
        remaining = await disconnect
      } catch (err) {
        warn(err, 'presence disconnect')
        remaining = local.get(user.id)?.size ?? 0
      } finally {
        leaving.delete(disconnect)
        if (leaving.size === 0 && closingByUser.get(user.id) === leaving) closingByUser.delete(user.id)
      }
      if (remaining === 0) scheduleOfflineCheck(user)
    },

    async updatePresence (user, groupId, status, deviceType) {
      const now = Date.now()
      try {
        await redis.multi()
          .hset(userKey(user.id), { status, visible: '1', seen: String(now), ...(deviceType !== undefined ? { device: deviceType } : {}) })
          .pexpire(userKey(user.id), USER_STATE_TTL_MS)
          .exec()
      } catch (err) {
        warn(err, 'presence update')
      }
      // A REST-only client stays online for the grace after its last update.
      if ((local.get(user.id)?.size ?? 0) === 0) scheduleOfflineCheck(user)
      await broadcastPresence(user, status, new Date(now))
      return deviceType === undefined ? { groupId, status } : { groupId, status, deviceType }
    },

    async groupPresence (groupId) {
      const members = await repository.membersOf(groupId)
      if (members.length === 0) return []
      const now = Date.now()
      const pipeline = redis.pipeline()
      for (const member of members) {
        pipeline.zcount(connsKey(member.userId), now, '+inf')
        pipeline.hmget(userKey(member.userId), 'status', 'device', 'visible', 'seen')
      }
      let results: Array<[Error | null, unknown]> | null = null
      try {
        results = await pipeline.exec()
      } catch (err) {
        warn(err, 'presence read')
      }
      return members.map((member, i): UserPresence => {
        const live = results === null
          ? (local.get(member.userId)?.size ?? 0) > 0
          : Number(results[i * 2]?.[1] ?? 0) > 0
        const [status, device, visible, seen] = (results?.[i * 2 + 1]?.[1] ?? []) as Array<string | null>
        const seenAt = seen !== null && seen !== undefined ? Number(seen) : null
        const inGrace = visible === '1' && seenAt !== null && now - seenAt < opts.graceMs
        const effective: PresenceStatus = live || inGrace ? asStatus(status) : 'offline'
        const lastSeen = live ? new Date(now) : seenAt !== null ? new Date(seenAt) : member.lastSeenAt
        const presence: UserPresence = {
          userId: member.userId,
          username: member.username,
          groupId,
          status: effective,
          lastSeenAt: (lastSeen ?? new Date(0)).toISOString()
        }
        const deviceType = asDevice(device)
        if (deviceType !== undefined) presence.deviceType = deviceType
        return presence
      })
    },

    async setTyping (user, groupId, isTyping) {
      const key = `${groupId}|${user.id}`
      const current = typingTimers.get(key)
      clearTimeout(current?.timer)
      typingTimers.delete(key)
      if (!isTyping) {
        let removed = 0
        try {
          removed = await redis.hdel(typingKey(groupId), String(user.id))
        } catch (err) {
          warn(err, 'typing stop')
        }
        if (removed > 0 || current !== undefined) broadcastTyping(user, groupId, false)
        return { groupId, isTyping }
      }
      const now = Date.now()
      const startedAt = current?.startedAt ?? now
      const expiresAt = now + opts.typingTtlMs
      try {
        await redis.multi()
          .hset(typingKey(groupId), String(user.id), `${expiresAt}:${startedAt}:${user.username}`)
          // Outlives the entry's own expiry so the expiry timer still finds it to end and announce.
          .pexpire(typingKey(groupId), 2 * opts.typingTtlMs + 1000)
          .exec()
      } catch (err) {
        warn(err, 'typing start')
      }
      // The expiry is broadcast by this instance even if the client vanished meanwhile.
      const timer = setTimeout(() => {
        typingTimers.delete(key)
        const expire = redis.parleyTypingExpire(typingKey(groupId), user.id, Date.now()).catch((err: unknown) => {
          warn(err, 'typing expiry')
          return 1
        })
        track(expire).then((ended) => { if (ended === 1) broadcastTyping(user, groupId, false) }, () => {})
      }, opts.typingTtlMs)
      timer.unref()
      typingTimers.set(key, { timer, startedAt })
      broadcastTyping(user, groupId, true)
      return { groupId, isTyping }
    },

    async typingUsers (groupId) {
      const now = Date.now()
      const entries = await redis.hgetall(typingKey(groupId))
      const typing: Array<TypingIndicator & { since: number }> = []
      for (const [field, value] of Object.entries(entries)) {
        const match = /^(\d+):(\d+):(.*)$/s.exec(value)
        const userId = Number(field)
        if (match === null || !Number.isInteger(userId)) continue
        if (Number(match[1]) <= now) continue
        const since = Number(match[2])
        typing.push({ userId, username: match[3] ?? '', groupId, isTyping: true, startedAt: new Date(since).toISOString(), since })
      }
      return typing.sort((a, b) => a.since - b.since || a.userId - b.userId).map(({ since: _since, ...indicator }) => indicator)
    },

    async onlineUserIds (userIds) {
      const online = new Set<number>()
      if (userIds.length === 0) return online
      const now = Date.now()
      try {
        const scores = await redis.zmscore(ONLINE_KEY, ...userIds.map(String))
        userIds.forEach((userId, i) => {
          const score = scores[i]
          if (score !== null && score !== undefined && Number(score) > now) online.add(userId)
        })
      } catch (err) {
        warn(err, 'online lookup')
        for (const userId of userIds) if ((local.get(userId)?.size ?? 0) > 0) online.add(userId)
      }
      return online
    }
  }

  return {
    ...service,
    async close () {
      closed = true
      clearInterval(heartbeatTimer)
      for (const timer of graceTimers.values()) clearTimeout(timer)
      for (const { timer } of typingTimers.values()) clearTimeout(timer)
      graceTimers.clear()
      typingTimers.clear()
      await Promise.allSettled([...inFlight])
    }
  }
}

/** The presence and typing service shared by the REST routes and the WebSocket gateway. */
export default fp<Partial<PresenceServiceOptions>>(async function presenceServicePlugin (fastify, opts) {
  const heartbeatMs = opts.heartbeatMs ?? fastify.config.ws.pingIntervalMs
  const service = createPresenceService(fastify, {
    heartbeatMs,
    // Three missed heartbeats before another instance stops counting a connection.
    connectionTtlMs: opts.connectionTtlMs ?? Math.max(3 * heartbeatMs, 1000),
    graceMs: opts.graceMs ?? fastify.config.presence.graceMs,
    typingTtlMs: opts.typingTtlMs ?? fastify.config.presence.typingTtlMs,
    maxConnectionsPerUser: opts.maxConnectionsPerUser ?? fastify.config.ws.maxConnectionsPerUser
  })
  const { close, ...presenceService } = service
  fastify.decorate('presenceService', presenceService)
  // The gateway closes its sockets in preClose, so their goodbyes are done before this runs;
  // onClose hooks run in reverse order, so this one runs before Redis and the database close.
  fastify.addHook('onClose', close)
}, { name: 'presence-service', dependencies: ['db', 'redis', 'bus', 'group-service'] })
