import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { ServerEvent } from '../../schemas/events.ts'
import { busChannel } from '../lib/store/keys.ts'
import { onNotice, subscribe } from './bus/local-delivery.ts'
import type { BusState } from './bus/state.ts'
import { closeBus, listenToOthers, notify, ownPrefixOf, publish } from './bus/transport.ts'

/** Where an event goes: everyone subscribed to a group, or every connection of one user. */
export type BusTarget = { groupId: string } | { userId: number }

/** About a publish, carried with the event to every instance. */
export interface PublishOptions {
  /**
   * The WebSocket connection whose command caused the event (connection ids are unique
   * across instances): the gateway does not send it the event, it has its ack.
   */
  originConnectionId?: string
  /**
   * For a chat:message replying with a reply preview: the seq of the quoted message, so each
   * receiver's gateway can drop the preview for a user who cleared that message
   * (realtime/cleared-history.ts). Internal: never part of the public event.
   */
  parentSeq?: number
}

export type BusListener = (event: ServerEvent, options: PublishOptions) => void

/**
 * Sessions that ended (logout, refresh-token reuse, password change): every instance drops them
 * from its session cache and closes their sockets with 4001.
 */
export interface SessionsEndedNotice {
  type: 'sessions_ended'
  userId: number
  sessionIds: string[]
}

/**
 * A user blocked or unblocked another: every instance updates the blocker's sockets' filter of
 * hidden senders (realtime/blocking.ts).
 */
export interface BlocksChangedNotice {
  type: 'blocks_changed'
  /** The blocker. */
  userId: number
  blockedUserId: number
  blocked: boolean
}

/**
 * What instances tell each other, never clients. Notices travel on a channel of their own that
 * every instance listens to, apart from the event channels, so no path to a socket carries one.
 */
export type InternalNotice = SessionsEndedNotice | BlocksChangedNotice
export type NoticeListener = (notice: InternalNotice) => void

export interface Bus {
  /** Delivers to local listeners now and to other instances through Redis pub/sub. */
  publish: (target: BusTarget, event: ServerEvent, options?: PublishOptions) => void
  /** Listens to a target; the instance subscribes to its Redis channel while anyone listens. */
  subscribe: (target: BusTarget, listener: BusListener) => () => void
  /** Number of local listeners of a target. */
  listenerCount: (target: BusTarget) => number
  /** Tells every instance, this one included (synchronously), through the notice channel. */
  notify: (notice: InternalNotice) => void
  /** Listens to every notice, whoever it names. */
  onNotice: (listener: NoticeListener) => () => void
}

declare module 'fastify' {
  interface FastifyInstance {
    bus: Bus
  }
}

/**
 * The event bus of DESIGN §6. Services publish after commit. Delivery to local listeners never
 * waits for Redis, so a Redis outage loses only cross-instance fanout, which resumes on its own
 * when the subscriber reconnects (ioredis re-subscribes every channel). Its jobs live in bus/:
 * local-delivery.ts (this instance's listeners), transport.ts (other instances: envelopes out
 * and in, publishes tracked until Redis answers, the close).
 */
export default fp(async function busPlugin (fastify) {
  const origin = randomUUID()
  const state: BusState = {
    origin,
    ownPrefix: ownPrefixOf(origin),
    listeners: new Map(),
    noticeListeners: new Set(),
    transport: fastify.store.busTransport,
    meter: fastify.meter,
    log: fastify.log,
    unanswered: new Set()
  }
  listenToOthers(state)
  const bus: Bus = {
    publish: (target, event, options) => { publish(state, target, event, options) },
    subscribe: (target, listener) => subscribe(state, busChannel(target), listener),
    listenerCount: (target) => state.listeners.get(busChannel(target))?.size ?? 0,
    notify: (notice) => { notify(state, notice) },
    onNotice: (listener) => onNotice(state, listener)
  }
  fastify.decorate('bus', bus)
  // Runs before the store's own close (hooks close in reverse order of registration).
  fastify.addHook('onClose', async () => { await closeBus(state) })
}, { name: 'bus', dependencies: ['store', 'metrics'] })
