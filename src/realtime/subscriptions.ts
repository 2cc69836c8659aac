import type { FastifyBaseLogger } from 'fastify'
import type { Bus } from '../plugins/bus.ts'
import type { Meter } from '../plugins/metrics.ts'
import { AppError } from '../lib/app-error.ts'
import type { SubscriberSets } from '../lib/store/subscribers.ts'
import type { ServerEvent } from '../../schemas/events.ts'
import type { GroupLeftReason } from '../../schemas/ws.ts'
import type { Caller } from './commands.ts'
import { MAX_SUBSCRIPTIONS, type Connection } from './connection.ts'
import { GroupSubscription } from './subscription.ts'
import { hiddenByBlock } from './blocking.ts'
import { outboundOf } from './outbound.ts'
import { deliverGroupEvent, type Fanout } from './fanout.ts'
import type { GatewayPorts } from './ports.ts'
import { sendTo } from './replies.ts'

/** Messages a join replays; past this the client is sent chat:resync_required. */
export const REPLAY_LIMIT = 1000
/** Evictions remembered per connection, so the group and the user copy of one notice count once. */
const EVICTION_MEMORY_MS = 10_000

/** A connection's group subscriptions: join (with replay), leave, eviction, the user's own events. */
export interface SubscriptionDeps {
  fanout: Fanout
  subscribers: SubscriberSets
  bus: Bus
  meter: Meter
  log: FastifyBaseLogger
  ports: Pick<GatewayPorts, 'replaySince' | 'messageEventsBetween'>
  /** How long a subscription counts across instances without a heartbeat refreshing it. */
  subscriberTtlMs: number
}

/** Subscriber count across instances: the store's set of subscribed connections, with heartbeat expiry. */
async function countSubscriber (deps: SubscriptionDeps, groupId: string, conn: Connection): Promise<number> {
  try {
    return await deps.subscribers.add({ groupId, connectionId: conn.id }, deps.subscriberTtlMs)
  } catch (err) {
    deps.log.warn({ err: { message: (err as Error).message } }, 'subscriber count unavailable; counting this instance only')
  }
  return deps.bus.listenerCount({ groupId })
}

function uncountSubscriber (deps: SubscriptionDeps, groupId: string, conn: Connection): void {
  deps.subscribers.remove({ groupId, connectionId: conn.id }).catch(() => {})
}

/** Ends a subscription because the user left, was removed, or the group is gone. */
export function evict (deps: SubscriptionDeps, conn: Connection, groupId: string, reason: GroupLeftReason, notice: ServerEvent | null, requestId?: string): void {
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
  uncountSubscriber(deps, groupId, conn)
  if (notice !== null) {
    conn.sendFrame(outboundOf(notice))
    conn.evicted.add(groupId)
    setTimeout(() => conn.evicted.delete(groupId), EVICTION_MEMORY_MS).unref()
  }
  sendTo(conn, requestId === undefined
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

/** chat:join_group: subscribes the connection, then answers chat:group_joined and replays from `sinceSeq`. */
export async function subscribe (deps: SubscriptionDeps, conn: Connection, caller: Caller, sinceSeq: number | undefined, requestId: string | undefined): Promise<Record<string, unknown>> {
  const { groupId } = caller.membership
  // A rejoin ends the current subscription: the events queued for it are delivered first.
  if (conn.subscriptions.has(groupId)) await deps.fanout.queue.settled()
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
    deliver: (event) => { deliverGroupEvent(deps.fanout, conn, groupId, event) },
    // Read as the user is shown them only when they cleared some of the group's history.
    fetchBetween: async (afterSeq, uptoSeq) => await deps.ports.messageEventsBetween(groupId, afterSeq, uptoSeq, conn.cleared.seqOf(groupId) > 0 ? caller.user.id : undefined),
    resync: (latestSeq) => { sendTo(conn, { type: 'chat:resync_required', payload: { groupId, latestSeq } }) },
    onError: (err) => { deps.log.warn({ err, groupId }, 'gap fill failed') }
  })
  // Subscribe before reading the database: whatever commits from now on arrives live.
  const unsubscribe = deps.fanout.localGroups.join(groupId, {
    userId: caller.user.id,
    receive (event) {
      const eviction = evictionOf(conn, event)
      if (eviction !== null) evict(deps, conn, eviction.groupId, eviction.reason, event)
      else subscription.push(event)
    }
  })
  conn.subscriptions.set(groupId, { subscription, unsubscribe })

  try {
    return await joinAndReplay(deps, conn, caller, subscription, sinceSeq, requestId)
  } catch (err) {
    if (conn.subscriptions.get(groupId)?.subscription === subscription) {
      subscription.close()
      unsubscribe()
      conn.subscriptions.delete(groupId)
      conn.cleared.forget(groupId)
      uncountSubscriber(deps, groupId, conn)
    }
    throw err
  }
}

/** The rest of a join, once the subscription listens: counts it, sends chat:group_joined and the replay. */
async function joinAndReplay (deps: SubscriptionDeps, conn: Connection, caller: Caller, subscription: GroupSubscription, sinceSeq: number | undefined, requestId: string | undefined): Promise<Record<string, unknown>> {
  const { groupId } = caller.membership
  const subscriberCount = await countSubscriber(deps, groupId, conn)
  // Without sinceSeq only the position is read: live events start after the newest seq.
  const replay = await deps.ports.replaySince(caller, sinceSeq ?? Number.MAX_SAFE_INTEGER, sinceSeq === undefined ? 0 : REPLAY_LIMIT)
  if (subscription.isClosed) throw new AppError('FORBIDDEN', 'You are no longer a member of this group')
  // Read after the subscription was registered: a clear committed since arrives as an event
  // (onUserEvent), and the higher of the two stands, whichever came first.
  conn.cleared.raise(groupId, replay.clearedSeq)
  const { latestSeq } = replay
  const joined = { groupId, subscriberCount, latestSeq }
  sendTo(conn, requestId === undefined ? { type: 'chat:group_joined', payload: joined } : { type: 'chat:group_joined', payload: joined, requestId })
  if (sinceSeq === undefined) {
    subscription.start(latestSeq)
  } else if (replay.truncated) {
    sendTo(conn, { type: 'chat:resync_required', payload: { groupId, latestSeq } })
    subscription.start(latestSeq)
  } else {
    for (const event of replay.events) subscription.replay(event)
    // latestSeq covers the replay: everything visible up to it was just sent.
    subscription.start(latestSeq)
  }
  return joined
}

export function unsubscribeAll (deps: SubscriptionDeps, conn: Connection): void {
  for (const [groupId, active] of conn.subscriptions) {
    active.subscription.close()
    active.unsubscribe()
    uncountSubscriber(deps, groupId, conn)
  }
  conn.subscriptions.clear()
}

/**
 * Events addressed to the user: mentions, notifications, their other devices' changes. Queued
 * behind the group events published before them (fanout-queue.ts), as they were published.
 */
export function onUserEvent (deps: SubscriptionDeps, conn: Connection, event: ServerEvent): void {
  deps.fanout.queue.pushOne(() => { deliverUserEvent(deps, conn, event) })
}

function deliverUserEvent (deps: SubscriptionDeps, conn: Connection, event: ServerEvent): void {
  if (conn.isClosed()) return
  const eviction = evictionOf(conn, event)
  if (eviction !== null) {
    evict(deps, conn, eviction.groupId, eviction.reason, event)
    return
  }
  if (hiddenByBlock(conn.blockedSenders, event)) return
  // The user's own clear (on any of their devices, or for everyone by an admin) moves the
  // watermark of a subscribed group; one not subscribed reads it when its subscription opens.
  if (event.type === 'chat:messages_cleared' && conn.subscriptions.has(event.payload.groupId)) {
    conn.cleared.raise(event.payload.groupId, event.payload.upToSeq)
  }
  deps.meter.eventDelivered()
  conn.sendFrame(outboundOf(event))
}
