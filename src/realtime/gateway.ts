import fp from 'fastify-plugin'
import websocket, { type WebSocket } from '@fastify/websocket'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RawData } from 'ws'
import type { ServerResponse } from 'node:http'
import type { AuthUser } from '../plugins/auth.ts'
import { AppError } from '../lib/app-error.ts'
import { addressKey } from '../lib/client-address.ts'
import { fixedWindowCounter } from '../lib/fixed-window.ts'
import { consumeWsTicket } from '../modules/auth/tickets.ts'
import type { Subscription } from '../lib/store/subscribers.ts'
import { wsUpgradeKey } from '../lib/store/keys.ts'
import { ErrorResponse, Ref } from '../../schemas/common.ts'
import type { ServerEvent } from '../../schemas/events.ts'
import {
  AuthFrame, JoinGroupFrame, LeaveGroupFrame, PingFrame, WS_CLOSE_CODES,
  type ErrorFrame, type GroupLeftReason, type ServerFrame
} from '../../schemas/ws.ts'
import { CommandTable, type Caller, type CommandContext } from './commands.ts'
import { Connection, MAX_SUBSCRIPTIONS } from './connection.ts'
import { DeliveryTracker } from './delivery.ts'
import { assertFrame, compileFrame, parseFrame, requestIdOf, type RawFrame } from './frames.ts'
import { WS_UPGRADE_LIMIT, type WsRateCategory } from './rate-limit.ts'
import { GroupSubscription } from './subscription.ts'
import { hiddenByBlock } from './blocking.ts'
import { shownAfterClear } from './cleared-history.ts'
import { LocalGroups } from './local-groups.ts'
import { outboundFrame, outboundOf } from './outbound.ts'
import { reactionFrameFor } from './reaction-frames.ts'
import { localGroupAudience, redisGroupAudience, type GroupAudience } from './audience.ts'

/*
 * The WebSocket gateway (DESIGN §5): authenticates the upgrade, validates frames against the
 * schemas, dispatches them to the areas' commands, and fans bus events out to subscribed
 * sockets. It holds no domain rules: commands call the same services REST routes call.
 *
 * Close codes (schemas/ws.ts WS_CLOSE_CODES): 4001 bad or missing credentials (before any
 * event is sent), the connection's session ended (logout, refresh-token reuse, password
 * change: on every instance at once), or its access token expired without an in-place
 * re-auth (a later `auth` frame of the same user); 4003 an Origin outside WS_ALLOWED_ORIGINS (a join of a group the user is not
 * in is a chat:error FORBIDDEN, never a close: the other subscriptions stay); 4429 a client
 * that keeps sending after being rate limited, or a user past WS_MAX_CONNECTIONS_PER_USER
 * (counted across instances in Redis, per instance while Redis is down); 1009 a frame over
 * WS_MAX_PAYLOAD_BYTES; 1013 a client that does not read (its send buffer passed
 * WS_SEND_BUFFER_LIMIT_BYTES), or a new connection while the instance is overloaded; 1001 shutdown.
 */

/** Messages a join replays; past this the client is sent chat:resync_required. */
export const REPLAY_LIMIT = 1000
/** How long shutdown waits for running commands before closing the sockets anyway. */
export const DRAIN_TIMEOUT_MS = 5000
/** Evictions remembered per connection, so the group and the user copy of one notice count once. */
const EVICTION_MEMORY_MS = 10_000

export interface ConnectionInfo {
  id: string
  userId: number | null
  groups: string[]
  /** Bytes the server holds for the client; never far past WS_SEND_BUFFER_LIMIT_BYTES. */
  bufferedAmount: number
  /** False once the connection is closing (e.g. closed with 1013 for not reading). */
  open: boolean
}

export interface Gateway {
  /** The dispatch table areas add their commands to. */
  commands: CommandTable
  /** This instance's connections (for ops and tests). */
  connections: () => ConnectionInfo[]
  /**
   * Users subscribed to the group on any instance, `except` one (a sender): who gets its
   * events live. Read from counters, never from the member list.
   */
  audienceOf: (groupId: string, except: number) => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway
  }
  interface FastifyRequest {
    /** Set by the upgrade preHandler: who the credentials in the URL belong to. */
    wsAuth: WsAuth | null
  }
}

type WsAuth = { user: AuthUser } | { refused: 'origin' | 'credentials' | 'overloaded' } | { pending: true }

const WsQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 8192 })),
  ticket: Type.Optional(Type.String({ maxLength: 256 }))
})

const errorFrame = (err: AppError, requestId: string | undefined): ErrorFrame => {
  const payload: ErrorFrame['payload'] = { error: err.message, code: err.code }
  if (err.details !== undefined) payload.details = err.details
  if (err.validationErrors !== undefined) payload.validationErrors = err.validationErrors
  return requestId === undefined ? { type: 'chat:error', payload } : { type: 'chat:error', payload, requestId }
}

export default fp(async function gatewayPlugin (fastify: FastifyInstance) {
  const { config } = fastify
  const log = fastify.log.child({ module: 'gateway' })
  const meter = fastify.meter
  const users = fastify.userService
  const commands = new CommandTable()
  const connections = new Map<string, Connection>()
  /** Presence goodbyes of closed connections, awaited before Redis and the database close. */
  const cleanups = new Set<Promise<unknown>>()
  let draining = false

  const delivery = new DeliveryTracker(
    async (groupId, userIds, seq) => { await fastify.chatService.markDeliveredMany(groupId, userIds, seq) },
    (err) => { log.warn({ err }, 'delivered watermark not saved') }
  )

  /** A frame for this connection alone (an ack, an error): serialized for it. */
  function send (conn: Connection, frame: ServerFrame): void {
    conn.sendFrame(outboundFrame(frame))
  }

  function sendError (conn: Connection, err: unknown, requestId: string | undefined, failureCode: AppError['code'] = 'INTERNAL_ERROR'): void {
    if (err instanceof AppError) {
      send(conn, errorFrame(err, requestId))
      return
    }
    // Internals stay in the log; the client gets the command's failure code only.
    log.error({ err, connectionId: conn.id }, 'websocket command failed')
    send(conn, errorFrame(new AppError(failureCode, 'Internal server error'), requestId))
  }

  // ---- subscriptions and fanout ----

  /** Subscriber count across instances: the store's set of subscribed connections, with heartbeat expiry. */
  const subscriberTtlMs = Math.max(3 * config.ws.pingIntervalMs, 1000)
  const { backend } = fastify.store
  /** Users subscribed per group on every instance (LocalGroups tells it who comes and goes here). */
  const audience: GroupAudience = backend.kind === 'redis'
    ? redisGroupAudience(backend.redis, { usersSubscribed: (groupId) => localGroups.usersSubscribed(groupId), isSubscribed: (groupId, userId) => localGroups.isSubscribed(groupId, userId) }, {
      ttlMs: subscriberTtlMs,
      clock: fastify.clock,
      onError: (err) => { log.warn({ err: { message: err.message } }, 'group audience unavailable; counting this instance only') }
    })
    : localGroupAudience({ usersSubscribed: (groupId) => localGroups.usersSubscribed(groupId), isSubscribed: (groupId, userId) => localGroups.isSubscribed(groupId, userId) })

  async function countSubscriber (groupId: string, conn: Connection): Promise<number> {
    try {
      return await fastify.store.subscribers.add({ groupId, connectionId: conn.id }, subscriberTtlMs)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'subscriber count unavailable; counting this instance only')
    }
    return fastify.bus.listenerCount({ groupId })
  }

  function uncountSubscriber (groupId: string, conn: Connection): void {
    fastify.store.subscribers.remove({ groupId, connectionId: conn.id }).catch(() => {})
  }

  /**
   * Events published on behalf of a connection's command (a chat:send_message), by that
   * connection's id. The event still passes through the connection's subscription, so its seq
   * counts as seen there, and is dropped only at delivery: that connection has its ack.
   */
  const originOf = new WeakMap<ServerEvent, string>()
  /** The seq of the message a reply's preview quotes, as its publisher told (PublishOptions.parentSeq). */
  const parentSeqOf = new WeakMap<ServerEvent, number>()
  /** Deliveries not yet added to the metric: counted per delivery, reported once per event. */
  let uncountedDeliveries = 0

  const localGroups = new LocalGroups(fastify.bus, {
    beforeFanout (event, { originConnectionId, parentSeq }) {
      if (originConnectionId !== undefined) originOf.set(event, originConnectionId)
      if (parentSeq !== undefined) parentSeqOf.set(event, parentSeq)
    },
    afterFanout () {
      if (uncountedDeliveries === 0) return
      meter.eventDelivered(uncountedDeliveries)
      uncountedDeliveries = 0
    },
    userJoined: (groupId, userId) => { audience.userJoined(groupId, userId) },
    userLeft: (groupId, userId) => { audience.userLeft(groupId, userId) },
    onError: (err, event) => { log.error({ err, type: event.type }, 'group event delivery failed') }
  })

  /**
   * Sends one group event to one connection: the frame serialized once for every receiver
   * (reactions: see reactionFrameFor). A hook that drops an event for some receivers
   * (`skip(conn, event)`) belongs at the top, before anything is sent or counted.
   */
  function deliverGroupEvent (conn: Connection, groupId: string, event: ServerEvent): void {
    if (originOf.get(event) === conn.id) return
    if (hiddenByBlock(conn.blockedSenders, event)) return
    const me = conn.user?.id
    if (event.type === 'chat:typing' && event.payload.userId === me) return
    uncountedDeliveries += 1
    if (event.type === 'chat:reactions_updated') {
      conn.sendFrame(reactionFrameFor(event, me))
      return
    }
    // A user who cleared nothing in their groups (most) is sent the shared frame without a lookup.
    conn.sendFrame(outboundOf(conn.cleared.size === 0 ? event : shownAfterClear(conn.cleared, groupId, event, parentSeqOf.get(event))))
    if (event.type === 'chat:message' && me !== undefined && event.payload.senderUserId !== me && conn.open) {
      delivery.record(me, groupId, event.payload.seq)
    }
  }

  /** Ends a subscription because the user left, was removed, or the group is gone. */
  function evict (conn: Connection, groupId: string, reason: GroupLeftReason, notice: ServerEvent | null, requestId?: string): void {
    const active = conn.subscriptions.get(groupId)
    if (active === undefined) {
      // Not subscribed: the notice still matters to the client, unless this very eviction was already told.
      if (notice !== null && !conn.evicted.has(groupId)) conn.sendFrame(outboundOf(notice))
      return
    }
    active.subscription.close()
    active.unsubscribe()
    conn.subscriptions.delete(groupId)
    conn.cleared.forget(groupId)
    uncountSubscriber(groupId, conn)
    if (notice !== null) {
      conn.sendFrame(outboundOf(notice))
      conn.evicted.add(groupId)
      setTimeout(() => conn.evicted.delete(groupId), EVICTION_MEMORY_MS).unref()
    }
    send(conn, requestId === undefined
      ? { type: 'chat:group_left', payload: { groupId, reason } }
      : { type: 'chat:group_left', payload: { groupId, reason }, requestId })
  }

  /** Membership changes end subscriptions at once, before any later event of the group. */
  function evictionOf (conn: Connection, event: ServerEvent): { groupId: string, reason: GroupLeftReason } | null {
    if (event.type === 'chat:member_left' && event.payload.userId === conn.user?.id) {
      return { groupId: event.payload.groupId, reason: event.payload.reason }
    }
    if (event.type === 'chat:group_deleted') return { groupId: event.payload.groupId, reason: 'deleted' }
    return null
  }

  async function subscribe (conn: Connection, caller: Caller, sinceSeq: number | undefined, requestId: string | undefined): Promise<Record<string, unknown>> {
    const { groupId } = caller.membership
    const existing = conn.subscriptions.get(groupId)
    if (existing !== undefined) {
      // A rejoin starts over (typically with a new sinceSeq).
      existing.subscription.close()
      existing.unsubscribe()
      conn.subscriptions.delete(groupId)
    } else if (conn.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      throw new AppError('VALIDATION_ERROR', `A connection can join at most ${MAX_SUBSCRIPTIONS} groups`)
    }
    conn.evicted.delete(groupId)

    const subscription = new GroupSubscription(groupId, {
      deliver: (event) => { deliverGroupEvent(conn, groupId, event) },
      // Read as the user is shown them only when they cleared some of the group's history.
      fetchBetween: async (afterSeq, uptoSeq) => await fastify.chatService.messageEventsBetween(groupId, afterSeq, uptoSeq, conn.cleared.seqOf(groupId) > 0 ? caller.user.id : undefined),
      resync: (latestSeq) => { send(conn, { type: 'chat:resync_required', payload: { groupId, latestSeq } }) },
      onError: (err) => { log.warn({ err, groupId }, 'gap fill failed') }
    })
    // Subscribe before reading the database: whatever commits from now on arrives live.
    const unsubscribe = localGroups.join(groupId, {
      userId: caller.user.id,
      receive (event) {
        const eviction = evictionOf(conn, event)
        if (eviction !== null) evict(conn, eviction.groupId, eviction.reason, event)
        else subscription.push(event)
      }
    })
    conn.subscriptions.set(groupId, { subscription, unsubscribe })

    try {
      const subscriberCount = await countSubscriber(groupId, conn)
      // Without sinceSeq only the position is read: live events start after the newest seq.
      const replay = await fastify.chatService.replaySince(caller, sinceSeq ?? Number.MAX_SAFE_INTEGER, sinceSeq === undefined ? 0 : REPLAY_LIMIT)
      if (subscription.isClosed) throw new AppError('FORBIDDEN', 'You are no longer a member of this group')
      // Read after the subscription was registered: a clear committed since arrives as an event
      // (onUserEvent), and the higher of the two stands, whichever came first.
      conn.cleared.raise(groupId, replay.clearedSeq)
      const { latestSeq } = replay
      const joined = { groupId, subscriberCount, latestSeq }
      send(conn, requestId === undefined ? { type: 'chat:group_joined', payload: joined } : { type: 'chat:group_joined', payload: joined, requestId })
      if (sinceSeq === undefined) {
        subscription.start(latestSeq)
      } else if (replay.truncated) {
        send(conn, { type: 'chat:resync_required', payload: { groupId, latestSeq } })
        subscription.start(latestSeq)
      } else {
        for (const event of replay.events) subscription.replay(event)
        // latestSeq covers the replay: everything visible up to it was just sent.
        subscription.start(latestSeq)
      }
      return joined
    } catch (err) {
      if (conn.subscriptions.get(groupId)?.subscription === subscription) {
        subscription.close()
        unsubscribe()
        conn.subscriptions.delete(groupId)
        conn.cleared.forget(groupId)
        uncountSubscriber(groupId, conn)
      }
      throw err
    }
  }

  function unsubscribeAll (conn: Connection): void {
    for (const [groupId, active] of conn.subscriptions) {
      active.subscription.close()
      active.unsubscribe()
      uncountSubscriber(groupId, conn)
    }
    conn.subscriptions.clear()
  }

  /** Events addressed to the user: mentions, notifications, their other devices' changes. */
  function onUserEvent (conn: Connection, event: ServerEvent): void {
    const eviction = evictionOf(conn, event)
    if (eviction !== null) {
      evict(conn, eviction.groupId, eviction.reason, event)
      return
    }
    if (hiddenByBlock(conn.blockedSenders, event)) return
    // The user's own clear (on any of their devices, or for everyone by an admin) moves the
    // watermark of a subscribed group; one not subscribed reads it when its subscription opens.
    if (event.type === 'chat:messages_cleared' && conn.subscriptions.has(event.payload.groupId)) {
      conn.cleared.raise(event.payload.groupId, event.payload.upToSeq)
    }
    meter.eventDelivered()
    conn.sendFrame(outboundOf(event))
  }

  // ---- sessions: a socket lives no longer than its session and its token ----

  /** This instance's authenticated connections by user, for closing a user's ended sessions. */
  const byUser = new Map<number, Set<Connection>>()

  function indexConnection (conn: Connection, userId: number): void {
    let set = byUser.get(userId)
    if (set === undefined) {
      set = new Set()
      byUser.set(userId, set)
    }
    set.add(conn)
  }

  function unindexConnection (conn: Connection): void {
    const userId = conn.user?.id
    if (userId === undefined) return
    const set = byUser.get(userId)
    if (set === undefined || !set.delete(conn) || set.size > 0) return
    byUser.delete(userId)
  }

  const closeSessionEnded = (conn: Connection): void => { conn.close(WS_CLOSE_CODES.authFailed, 'Session ended') }

  // Any instance that ends a session tells every instance (plugins/bus.ts notices).
  const stopNotices = fastify.bus.onNotice((notice) => {
    if (notice.type === 'blocks_changed') {
      for (const conn of byUser.get(notice.userId) ?? []) conn.blockedSenders.change(notice.blockedUserId, notice.blocked)
      return
    }
    if (notice.type !== 'sessions_ended') return
    const ended = new Set(notice.sessionIds)
    for (const conn of byUser.get(notice.userId) ?? []) {
      if (conn.user !== null && ended.has(conn.user.sessionId)) closeSessionEnded(conn)
    }
  })

  /** Closes the connection with 4001 when its credentials expire, unless re-authenticated in place first. */
  function scheduleExpiry (conn: Connection, user: AuthUser): void {
    if (conn.expiryTimer !== null) clearTimeout(conn.expiryTimer)
    conn.expiryTimer = null
    if (user.expiresAt === undefined) return
    // setTimeout holds at most ~24.8 days; a token that outlives it is checked again then.
    const delay = Math.min(Math.max(0, user.expiresAt - Date.now()), 2 ** 31 - 1)
    conn.expiryTimer = setTimeout(() => {
      conn.expiryTimer = null
      if (conn.reauthenticating) return
      if (user.expiresAt !== undefined && user.expiresAt <= Date.now()) closeIfExpired(conn)
      else scheduleExpiry(conn, user)
    }, delay)
    conn.expiryTimer.unref()
  }

  /** `auth` on an authenticated connection: a fresh token of the same user moves its expiry. */
  async function reauthenticate (conn: Connection, token: string): Promise<Record<string, unknown>> {
    conn.reauthenticating = true
    try {
      const user = await fastify.verifyAccessToken(token)
      if (user.id !== conn.user?.id) throw new AppError('FORBIDDEN', 'A connection stays with the user it was opened for')
      conn.user = user
      if (!user.external && fastify.sessionEndedRecently(user.sessionId)) closeSessionEnded(conn)
      scheduleExpiry(conn, user)
      return user.expiresAt === undefined ? { userId: user.id } : { userId: user.id, expiresAt: new Date(user.expiresAt).toISOString() }
    } finally {
      conn.reauthenticating = false
      // A failed re-auth leaves the old token: if it ran out meanwhile, the connection ends now.
      closeIfExpired(conn)
    }
  }

  function closeIfExpired (conn: Connection): void {
    const expiresAt = conn.user?.expiresAt
    if (expiresAt !== undefined && expiresAt <= Date.now()) conn.close(WS_CLOSE_CODES.authFailed, 'Access token expired')
  }

  // ---- connection lifecycle ----

  async function callerIn (user: AuthUser, groupId: string): Promise<Caller> {
    const membership = await fastify.groupService.getMembership(groupId, user.id)
    if (membership === null) throw new AppError('FORBIDDEN', 'You are not a member of this group')
    return { user, membership }
  }

  /** The connection is authenticated: count it, listen to the user's events, send chat:sync. */
  async function admit (conn: Connection, user: AuthUser): Promise<boolean> {
    // The socket may have closed while its credentials were checked: nothing is left to admit.
    if (conn.isClosed()) return false
    conn.user = user
    conn.state = 'authenticating'
    // Indexed before anything is awaited, and checked against sessions that ended while the
    // credentials were verified: no ended session's notice can slip past a connection.
    indexConnection(conn, user.id)
    if (!user.external && fastify.sessionEndedRecently(user.sessionId)) {
      closeSessionEnded(conn)
      return false
    }
    scheduleExpiry(conn, user)
    // Read after indexing, so a block made meanwhile reaches the list through its notice.
    conn.blockedSenders.beginLoad()
    conn.blockedSenders.finishLoad(await users.blockedIdsOf(user.id))
    const admission = await fastify.presenceService.connectionOpened(user, conn.id)
    if (!admission.accepted) {
      conn.close(WS_CLOSE_CODES.rateLimited, `At most ${config.ws.maxConnectionsPerUser} connections per user`)
      return false
    }
    conn.registered = true
    if (conn.isClosed()) {
      // The socket closed while presence counted it.
      track(fastify.presenceService.connectionClosed(user, conn.id))
      return false
    }
    conn.state = 'ready'
    conn.stopUserEvents = fastify.bus.subscribe({ userId: user.id }, (event) => { onUserEvent(conn, event) })
    try {
      const [groups, unreadNotifications] = await Promise.all([
        fastify.chatService.syncState(user.id),
        fastify.notificationService.unreadCount(user.id)
      ])
      send(conn, { type: 'chat:sync', payload: { groups, unreadNotifications } })
    } catch (err) {
      log.error({ err }, 'chat:sync failed')
    }
    return true
  }

  function track (work: Promise<unknown>): void {
    const tracked = work.catch((err: unknown) => { log.warn({ err }, 'connection cleanup failed') })
    cleanups.add(tracked)
    void tracked.finally(() => cleanups.delete(tracked))
  }

  function onClose (conn: Connection): void {
    const wasState = conn.state
    conn.state = 'closed'
    if (conn.authTimer !== null) clearTimeout(conn.authTimer)
    if (conn.expiryTimer !== null) clearTimeout(conn.expiryTimer)
    conn.expiryTimer = null
    unindexConnection(conn)
    connections.delete(conn.id)
    unsubscribeAll(conn)
    conn.stopUserEvents?.()
    conn.stopUserEvents = null
    if (conn.user !== null && conn.registered && wasState !== 'closed') {
      track(fastify.presenceService.connectionClosed(conn.user, conn.id))
    }
  }

  function commandContext (conn: Connection, user: AuthUser, requestId: string | undefined): CommandContext {
    return {
      user,
      connectionId: conn.id,
      requestId,
      callerIn: async (groupId) => await callerIn(user, groupId),
      send: (frame) => { send(conn, frame) }
    }
  }

  /** Handles one frame of an authenticated connection. */
  function dispatch (conn: Connection, frame: RawFrame): void {
    const { requestId } = frame
    if (frame.type === 'auth') {
      const check = authCheck
      try { assertFrame(check, frame) } catch (err) { sendError(conn, err, requestId); return }
      // Received before the expiry: the connection stays open until the new token is checked.
      conn.reauthenticating = true
      if (!enqueue(conn, requestId, async () => await reauthenticate(conn, frame.token ?? ''))) {
        conn.reauthenticating = false
        closeIfExpired(conn)
      }
      return
    }
    const registered = commands.get(frame.type)
    if (registered === undefined) {
      sendError(conn, new AppError('VALIDATION_ERROR', `Unknown message type: ${frame.type.slice(0, 64)}`, undefined,
        [{ field: 'type', message: `type must be one of ${commands.types().join(', ')}` }]), requestId)
      return
    }
    try {
      assertFrame(registered.check, frame)
    } catch (err) {
      sendError(conn, err, requestId)
      return
    }
    registered.normalise?.(frame)
    const { command } = registered
    if (command.rateLimit !== undefined && !takeToken(conn, command.rateLimit, requestId)) return
    enqueue(conn, requestId, async () => {
      // Read when the command runs: a connection authenticating by frame has its user by then.
      const user = conn.user
      if (user === null || conn.state !== 'ready') throw new AppError('UNAUTHORIZED', 'The connection is not authenticated')
      return await command.run(commandContext(conn, user, requestId), frame)
    }, command.failureCode)
  }

  /** Queues a command of the connection; false (and a chat:error sent) when its queue is full. */
  function enqueue (conn: Connection, requestId: string | undefined, run: () => Promise<Record<string, unknown> | undefined>, failureCode?: AppError['code']): boolean {
    const accepted = conn.enqueue(async () => {
      if (conn.state === 'closed') return
      try {
        const result = await run()
        if (requestId !== undefined) send(conn, { type: 'chat:ack', payload: { success: true, ...result }, requestId })
      } catch (err) {
        sendError(conn, err, requestId, failureCode)
      }
    })
    if (!accepted) sendError(conn, new AppError('RATE_LIMIT_EXCEEDED', 'Too many commands in progress on this connection'), requestId)
    return accepted
  }

  /** Takes a token from a bucket; answers RATE_LIMIT_EXCEEDED and closes 4429 on abuse. */
  function takeToken (conn: Connection, category: WsRateCategory, requestId: string | undefined): boolean {
    const refused = conn.limits.take(category)
    if (refused === null) return true
    if (conn.limits.abusive()) {
      conn.close(WS_CLOSE_CODES.rateLimited, 'Rate limit exceeded repeatedly')
      return false
    }
    sendError(conn, new AppError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded. Please slow down.', refused), requestId)
    return false
  }

  function onMessage (conn: Connection, data: RawData, isBinary: boolean): void {
    conn.alive = true
    if (conn.state === 'closed' || !conn.open) return
    if (!conn.acceptingFrames) {
      sendError(conn, new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down; reconnect'), undefined)
      return
    }
    if (!takeToken(conn, 'frames', undefined)) return
    if (isBinary) {
      sendError(conn, new AppError('VALIDATION_ERROR', 'Frames are JSON text', undefined, [{ field: 'frame', message: 'frame must be a text frame' }]), undefined)
      return
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
    let frame: RawFrame
    try {
      frame = parseFrame(text)
    } catch (err) {
      sendError(conn, err, requestIdOf(text))
      return
    }
    if (conn.state === 'awaiting-auth') {
      if (frame.type !== 'auth') {
        conn.close(WS_CLOSE_CODES.authFailed, 'Authentication required')
        return
      }
      try {
        assertFrame(authCheck, frame)
      } catch {
        conn.close(WS_CLOSE_CODES.authFailed, 'Authentication required')
        return
      }
      if (conn.authTimer !== null) clearTimeout(conn.authTimer)
      conn.authTimer = null
      conn.state = 'authenticating'
      const { requestId } = frame
      conn.enqueue(async () => {
        let user: AuthUser
        try {
          user = await fastify.verifyAccessToken(frame.token ?? '')
        } catch {
          conn.close(WS_CLOSE_CODES.authFailed, 'Invalid or expired token')
          return
        }
        connections.set(conn.id, conn)
        if (await admit(conn, user).catch((err: unknown) => { sendError(conn, err, requestId); return false }) && requestId !== undefined) {
          send(conn, { type: 'chat:ack', payload: { success: true, userId: user.id }, requestId })
        }
      })
      return
    }
    // Frames that arrive while the connection is being admitted queue behind the admission.
    dispatch(conn, frame)
  }

  const authCheck = compileFrame(AuthFrame)

  // ---- the endpoint ----

  await fastify.register(websocket, {
    options: { maxPayload: config.ws.maxPayloadBytes, perMessageDeflate: false },
    errorHandler: (err, socket) => {
      log.warn({ err: { message: err.message } }, 'websocket error')
      socket.terminate()
    },
    preClose: async () => { await shutdown() }
  })

  fastify.decorateRequest('wsAuth', null)

  const countUpgrade = fixedWindowCounter(fastify.store)
  const upgradeLimit = Math.max(1, Math.floor(WS_UPGRADE_LIMIT.perAddress * config.rateLimitScale))

  /** 429 before the upgrade for an address past its budget; Redis is best effort (an outage lets upgrades through). */
  async function refuseIfTooManyUpgrades (ip: string): Promise<void> {
    let count: number
    let ttlMs: number
    try {
      [count, ttlMs] = await countUpgrade(wsUpgradeKey(addressKey(ip)), WS_UPGRADE_LIMIT.windowMs)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'upgrade counter unavailable')
      return
    }
    if (count <= upgradeLimit) return
    throw new AppError('RATE_LIMIT_EXCEEDED', 'Too many WebSocket connections from this address. Please slow down.', {
      retryAfter: Math.max(1, Math.ceil(ttlMs / 1000)),
      limit: upgradeLimit,
      remaining: 0,
      resetAt: new Date(Date.now() + ttlMs).toISOString()
    })
  }

  // ---- per-socket memory: nothing per socket beyond the Connection and ws's own state ----

  const connectionOf = new WeakMap<WebSocket, Connection>()
  function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
    const conn = connectionOf.get(this)
    if (conn !== undefined) onMessage(conn, data, isBinary)
  }
  function onSocketPong (this: WebSocket): void {
    const conn = connectionOf.get(this)
    if (conn !== undefined) conn.alive = true
  }
  function onSocketClose (this: WebSocket): void {
    const conn = connectionOf.get(this)
    if (conn !== undefined) onClose(conn)
  }
  function onSocketError (this: WebSocket, err: Error): void {
    log.warn({ err: { message: err.message } }, 'websocket error')
    this.terminate()
  }

  /**
   * Lets the upgrade's HTTP request and reply go (issue 16.3: they were ~15 KB a socket, kept
   * for the socket's whole life). @fastify/websocket's error listener closes over them, and the
   * TCP socket still points at the reply it was assigned to; a shared error listener (the same
   * handling as the plugin's errorHandler below) and a detached reply hold nothing.
   */
  function releaseUpgrade (socket: WebSocket, request: FastifyRequest): void {
    socket.removeAllListeners('error')
    socket.on('error', onSocketError)
    const tcp = request.raw.socket as (typeof request.raw.socket & { _httpMessage?: ServerResponse | null }) | null
    const response = tcp?._httpMessage
    if (tcp !== null && response !== undefined && response !== null) response.detachSocket(tcp)
  }

  /** Runs before the upgrade completes: credentials in the URL are checked here. */
  async function authenticateUpgrade (request: FastifyRequest<{ Querystring: { token?: string, ticket?: string } }>): Promise<void> {
    if (!request.ws) throw new AppError('NOT_FOUND', `${config.ws.path} only accepts WebSocket upgrades`)
    if (draining || fastify.isDraining()) throw new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down')
    // Saturated (src/plugins/overload.ts): no credentials checked, no ticket spent; closed with 1013.
    if (fastify.isUnderPressure()) {
      request.wsAuth = { refused: 'overloaded' }
      return
    }
    await refuseIfTooManyUpgrades(request.ip)
    const origin = request.headers.origin
    if (config.ws.allowedOrigins.length > 0 && origin !== undefined && !config.ws.allowedOrigins.includes(origin)) {
      request.wsAuth = { refused: 'origin' }
      return
    }
    const { token, ticket } = request.query
    if (token !== undefined) {
      request.wsAuth = await fastify.verifyAccessToken(token).then((user) => ({ user }), () => ({ refused: 'credentials' as const }))
    } else if (ticket !== undefined) {
      const payload = await consumeWsTicket(fastify.store, ticket).catch((err: unknown) => {
        log.warn({ err: { message: (err as Error).message } }, 'ticket lookup failed')
        return null
      })
      // A ticket outlives nothing: the session it was issued for must still be live.
      request.wsAuth = payload === null
        ? { refused: 'credentials' }
        : await fastify.resumeSession(payload, payload.expiresAt ?? Date.now() + config.jwt.accessTtlSeconds * 1000)
          .then((user) => ({ user }), () => ({ refused: 'credentials' as const }))
    } else {
      request.wsAuth = { pending: true }
    }
  }

  fastify.get(config.ws.path, {
    websocket: true,
    schema: {
      querystring: WsQuery,
      hide: true,
      response: { 400: Ref(ErrorResponse), 404: Ref(ErrorResponse), 429: Ref(ErrorResponse), 503: Ref(ErrorResponse) }
    },
    // Upgrades have their own per-address limit (refuseIfTooManyUpgrades), besides the
    // per-user connection limit and the auth timeout.
    config: { rateLimit: false },
    preHandler: authenticateUpgrade
  }, (socket: WebSocket, request: FastifyRequest) => {
    const conn = new Connection(socket, { rateLimitScale: config.rateLimitScale, sendBufferLimitBytes: config.ws.sendBufferLimitBytes, clock: fastify.clock })
    // Handlers first, synchronously: frames that arrive during any await below are not lost.
    // Shared functions, not closures per socket: they find the connection by its socket.
    connectionOf.set(socket, conn)
    socket.on('message', onSocketMessage)
    socket.on('pong', onSocketPong)
    socket.on('close', onSocketClose)
    releaseUpgrade(socket, request)

    const auth = request.wsAuth
    if (auth === null || 'refused' in auth) {
      conn.state = 'closed'
      if (auth !== null && auth.refused === 'origin') conn.close(WS_CLOSE_CODES.forbidden, 'Origin not allowed')
      else if (auth !== null && auth.refused === 'overloaded') conn.close(WS_CLOSE_CODES.tryAgainLater, 'Server overloaded: try again later')
      else conn.close(WS_CLOSE_CODES.authFailed, 'Invalid or expired credentials')
      return
    }
    if (draining) {
      conn.close(WS_CLOSE_CODES.goingAway, 'Server shutting down')
      return
    }
    if ('pending' in auth) {
      conn.authTimer = setTimeout(() => {
        if (conn.state === 'awaiting-auth') conn.close(WS_CLOSE_CODES.authFailed, 'Authentication timed out')
      }, config.ws.authTimeoutMs)
      conn.authTimer.unref()
      return
    }
    conn.state = 'authenticating'
    connections.set(conn.id, conn)
    conn.enqueue(async () => {
      await admit(conn, auth.user).catch((err: unknown) => {
        log.error({ err }, 'admission failed')
        conn.close(WS_CLOSE_CODES.tryAgainLater, 'Try again later')
      })
    })
  })

  // ---- the gateway's own commands ----

  commands.register({
    frame: JoinGroupFrame,
    rateLimit: 'joins',
    async run (ctx, frame) {
      const conn = connections.get(ctx.connectionId)
      if (conn === undefined) return undefined
      const caller = await ctx.callerIn(frame.payload.groupId)
      return await subscribe(conn, caller, frame.payload.sinceSeq, ctx.requestId)
    }
  })

  commands.register({
    frame: LeaveGroupFrame,
    async run (ctx, frame) {
      const conn = connections.get(ctx.connectionId)
      if (conn !== undefined) evict(conn, frame.payload.groupId, 'left', null, ctx.requestId)
      return { groupId: frame.payload.groupId }
    }
  })

  commands.register({
    frame: PingFrame,
    async run (ctx) {
      const timestamp = Date.now()
      ctx.send(ctx.requestId === undefined ? { type: 'pong', payload: { timestamp } } : { type: 'pong', payload: { timestamp }, requestId: ctx.requestId })
      return { timestamp }
    }
  })

  // ---- heartbeat ----

  /** A connection that has not answered since the last ping is gone: it counts as closed. */
  const heartbeat = setInterval(() => {
    const subscribed: Subscription[] = []
    for (const conn of connections.values()) {
      if (!conn.alive) {
        conn.socket.terminate()
        continue
      }
      conn.alive = false
      try { conn.socket.ping() } catch { /* closing already */ }
      for (const groupId of conn.subscriptions.keys()) subscribed.push({ groupId, connectionId: conn.id })
    }
    // One pipeline for the lot in Redis.
    fastify.store.subscribers.refresh(subscribed, subscriberTtlMs).catch(() => {})
    audience.refresh(localGroups.subscribedUsers()).catch(() => {})
  }, config.ws.pingIntervalMs)
  heartbeat.unref()

  // ---- shutdown ----

  /**
   * On close: no new upgrades or frames, running commands finish (their acks are sent), then
   * every socket is closed with 1001 so clients reconnect elsewhere.
   */
  async function shutdown (): Promise<void> {
    draining = true
    clearInterval(heartbeat)
    stopNotices()
    const all = [...fastify.websocketServer.clients]
    for (const conn of connections.values()) conn.acceptingFrames = false
    await waitAtMost(Promise.all([...connections.values()].map(async (conn) => { await conn.idle() })), DRAIN_TIMEOUT_MS)
    const closed = all.map(async (socket) => await new Promise<void>((resolve) => {
      if (socket.readyState === socket.CLOSED) { resolve(); return }
      socket.once('close', () => { resolve() })
      if (socket.readyState === socket.OPEN) socket.close(WS_CLOSE_CODES.goingAway, 'Server shutting down')
    }))
    await waitAtMost(Promise.all(closed), 2000)
    for (const socket of fastify.websocketServer.clients) socket.terminate()
    await delivery.flush()
    await Promise.allSettled([...cleanups])
    await new Promise<void>((resolve) => { fastify.websocketServer.close(() => { resolve() }) })
  }

  fastify.decorate('gateway', {
    commands,
    audienceOf: async (groupId, except) => Math.max(0, await audience.countExcept(groupId, except)),
    connections: () => [...connections.values()].map((conn) => ({
      id: conn.id,
      userId: conn.user?.id ?? null,
      groups: [...conn.subscriptions.keys()],
      bufferedAmount: conn.socket.bufferedAmount,
      open: conn.open
    }))
  } satisfies Gateway)
}, { name: 'gateway', dependencies: ['auth', 'bus', 'store', 'health', 'metrics', 'chat-service', 'group-service', 'presence-service', 'user-service', 'notification-service'] })

async function waitAtMost (work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    work,
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  ])
  clearTimeout(timer)
}
