import type { FastifyBaseLogger } from 'fastify'
import type { Bus } from '../plugins/bus.ts'
import type { Meter } from '../plugins/metrics.ts'
import type { Clock } from '../lib/clock.ts'
import type { StoreBackend } from '../lib/store/store.ts'
import type { ServerEvent } from '../../schemas/events.ts'
import type { Connection } from './connection.ts'
import { DeliveryTracker, type MarkDelivered } from './delivery.ts'
import { hiddenByBlock } from './blocking.ts'
import { shownAfterClear } from './cleared-history.ts'
import { LocalGroups } from './local-groups.ts'
import { FanoutQueue } from './fanout-queue.ts'
import { outboundOf } from './outbound.ts'
import { reactionFrameFor, type ReactionViews } from './reaction-frames.ts'
import { localGroupAudience, redisGroupAudience, type GroupAudience } from './audience.ts'

/**
 * Group events to subscribed sockets: one bus listener per group (LocalGroups), one frame built
 * per event, and a per-receiver check that allocates nothing. Group and user events reach the
 * sockets through one queue (FanoutQueue), after the publisher's turn and in slices, so a send's
 * ack never waits for its fanout. The audience counts subscribed users across instances for
 * `Gateway.audienceOf`.
 */
export interface Fanout {
  readonly localGroups: LocalGroups
  /** Every local delivery of a bus event, in publish order. */
  readonly queue: FanoutQueue
  readonly audience: GroupAudience
  /**
   * Events published on behalf of a connection's command (a chat:send_message), by that
   * connection's id. The event still passes through the connection's subscription, so its seq
   * counts as seen there, and is dropped only at delivery: that connection has its ack.
   */
  readonly originOf: WeakMap<ServerEvent, string>
  /** The seq of the message a reply's preview quotes, as its publisher told (PublishOptions.parentSeq). */
  readonly parentSeqOf: WeakMap<ServerEvent, number>
  readonly delivery: DeliveryTracker
  readonly reactions: ReactionViews
  /** Deliveries not yet added to the metric: counted per delivery, reported once per event. */
  uncountedDeliveries: number
}

export interface FanoutDeps {
  bus: Bus
  backend: StoreBackend
  clock: Clock
  meter: Meter
  log: FastifyBaseLogger
  /** Writes delivered watermarks (batched by the fanout's DeliveryTracker). */
  markDelivered: MarkDelivered
  /** What one receiver of a reactions event is shown (the chat area's rule). */
  reactions: ReactionViews
  /** How long a subscription counts across instances without a heartbeat refreshing it. */
  subscriberTtlMs: number
}

export function createFanout (deps: FanoutDeps): Fanout {
  const { log, meter } = deps
  const originOf = new WeakMap<ServerEvent, string>()
  const parentSeqOf = new WeakMap<ServerEvent, number>()
  const delivery = new DeliveryTracker(
    async (groupId, userIds, seq) => { await deps.markDelivered(groupId, userIds, seq) },
    (err) => { log.warn({ err }, 'delivered watermark not saved') }
  )
  const queue = new FanoutQueue((err) => { log.error({ err }, 'event delivery failed') })
  const localGroups = new LocalGroups(deps.bus, queue, {
    beforeFanout (event, { originConnectionId, parentSeq }) {
      if (originConnectionId !== undefined) originOf.set(event, originConnectionId)
      if (parentSeq !== undefined) parentSeqOf.set(event, parentSeq)
    },
    afterFanout () {
      if (fanout.uncountedDeliveries === 0) return
      meter.eventDelivered(fanout.uncountedDeliveries)
      fanout.uncountedDeliveries = 0
    },
    userJoined: (groupId, userId) => { audience.userJoined(groupId, userId) },
    userLeft: (groupId, userId) => { audience.userLeft(groupId, userId) },
    onError: (err, event) => { log.error({ err, type: event.type }, 'group event delivery failed') }
  })
  // Users subscribed per group on every instance (LocalGroups tells it who comes and goes here).
  const here = {
    usersSubscribed: (groupId: string) => localGroups.usersSubscribed(groupId),
    isSubscribed: (groupId: string, userId: number) => localGroups.isSubscribed(groupId, userId)
  }
  const audience: GroupAudience = deps.backend.kind === 'redis'
    ? redisGroupAudience(deps.backend.redis, here, {
      ttlMs: deps.subscriberTtlMs,
      clock: deps.clock,
      onError: (err) => { log.warn({ err: { message: err.message } }, 'group audience unavailable; counting this instance only') }
    })
    : localGroupAudience(here)
  const fanout: Fanout = { localGroups, queue, audience, originOf, parentSeqOf, delivery, reactions: deps.reactions, uncountedDeliveries: 0 }
  return fanout
}

/**
 * Sends one group event to one connection: the frame serialized once for every receiver
 * (reactions: see reactionFrameFor). A hook that drops an event for some receivers
 * (`skip(conn, event)`) belongs at the top, before anything is sent or counted.
 */
export function deliverGroupEvent (fanout: Fanout, conn: Connection, groupId: string, event: ServerEvent): void {
  if (fanout.originOf.get(event) === conn.id) return
  if (hiddenByBlock(conn.blockedSenders, event)) return
  const me = conn.user?.id
  if (event.type === 'chat:typing' && event.payload.userId === me) return
  fanout.uncountedDeliveries += 1
  if (event.type === 'chat:reactions_updated') {
    conn.sendFrame(reactionFrameFor(fanout.reactions, event, me))
    return
  }
  // A user who cleared nothing in their groups (most) is sent the shared frame without a lookup.
  conn.sendFrame(outboundOf(conn.cleared.size === 0 ? event : shownAfterClear(conn.cleared, groupId, event, fanout.parentSeqOf.get(event))))
  if (event.type === 'chat:message' && me !== undefined && event.payload.senderUserId !== me && conn.open) {
    fanout.delivery.record(me, groupId, event.payload.seq)
  }
}
