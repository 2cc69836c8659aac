import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { ServerEvent } from '../../schemas/events.ts'
import { BUS_NOTICE_CHANNEL, busChannel } from '../lib/store/keys.ts'
import { REDIS_QUIT_TIMEOUT_MS } from '../lib/store/store.ts'

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

interface Envelope {
  origin: string
  event: ServerEvent
  originConnectionId?: string
  parentSeq?: number
}

interface NoticeEnvelope {
  origin: string
  notice: InternalNotice
}

const NO_OPTIONS: PublishOptions = Object.freeze({})

const channelOf = busChannel

/** The publish options an envelope carried; the shared empty ones for the many that carry none. */
function optionsOf (envelope: Envelope): PublishOptions {
  const { originConnectionId, parentSeq } = envelope
  if (originConnectionId === undefined && parentSeq === undefined) return NO_OPTIONS
  const options: PublishOptions = {}
  if (originConnectionId !== undefined) options.originConnectionId = originConnectionId
  if (typeof parentSeq === 'number') options.parentSeq = parentSeq
  return options
}

/**
 * The event bus of DESIGN §6. Services publish after commit. Delivery to local listeners never
 * waits for Redis, so a Redis outage loses only cross-instance fanout, which resumes on its own
 * when the subscriber reconnects (ioredis re-subscribes every channel).
 */
export default fp(async function busPlugin (fastify) {
  const origin = randomUUID()
  const listeners = new Map<string, Set<BusListener>>()
  const noticeListeners = new Set<NoticeListener>()
  // Other instances, through Redis; none on a single node (REDIS_URL=memory).
  const transport = fastify.store.busTransport
  const meter = fastify.meter
  // Publishes not yet answered by Redis: shutdown waits for them, so the last events before it
  // still reach the other instances.
  const unanswered = new Set<Promise<unknown>>()

  function deliver (channel: string, event: ServerEvent, options: PublishOptions): void {
    const set = listeners.get(channel)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        listener(event, options)
      } catch (err) {
        fastify.log.error({ err, type: event.type }, 'bus listener failed')
      }
    }
  }

  function deliverNotice (notice: InternalNotice): void {
    for (const listener of [...noticeListeners]) {
      try {
        listener(notice)
      } catch (err) {
        fastify.log.error({ err, type: notice.type }, 'notice listener failed')
      }
    }
  }

  function publishRemote (channel: string, message: Envelope | NoticeEnvelope): void {
    if (transport === null) return
    const published = transport.publish(channel, JSON.stringify(message)).catch((err: Error) => {
      meter.busPublishFailed()
      fastify.log.warn({ err: { message: err.message }, channel }, 'bus publish failed; local delivery only')
    }).finally(() => { unanswered.delete(published) })
    unanswered.add(published)
  }

  // Every envelope is written with `origin` first (publishRemote), so this instance's own
  // messages, which Redis sends back to it on every channel it listens to, are known by their
  // first bytes and dropped without parsing them.
  const ownPrefix = JSON.stringify({ origin }).slice(0, -1)
  if (transport !== null) {
    transport.onMessage((channel, raw) => {
      if (raw.startsWith(ownPrefix)) return
      let envelope: Envelope | NoticeEnvelope
      try { envelope = JSON.parse(raw) as Envelope | NoticeEnvelope } catch { return }
      if (envelope.origin === origin) return
      if (channel === BUS_NOTICE_CHANNEL) {
        if ('notice' in envelope) deliverNotice(envelope.notice)
      } else if ('event' in envelope) {
        deliver(channel, envelope.event, optionsOf(envelope))
      }
    })
    // Every instance hears every notice, from the start (ioredis re-subscribes on reconnect).
    transport.listen(BUS_NOTICE_CHANNEL).catch((err: Error) => {
      fastify.log.warn({ err: { message: err.message } }, 'notice subscribe failed; retried on reconnect')
    })
  }

  const bus: Bus = {
    publish (target, event, options = NO_OPTIONS) {
      const channel = channelOf(target)
      deliver(channel, event, options)
      publishRemote(channel, options === NO_OPTIONS ? { origin, event } : { origin, event, ...options })
    },
    subscribe (target, listener) {
      const channel = channelOf(target)
      let set = listeners.get(channel)
      if (set === undefined) {
        set = new Set()
        listeners.set(channel, set)
        transport?.listen(channel).catch((err: Error) => {
          fastify.log.warn({ err: { message: err.message }, channel }, 'bus subscribe failed; retried on reconnect')
        })
      }
      set.add(listener)
      return () => {
        const current = listeners.get(channel)
        if (current === undefined || !current.delete(listener) || current.size > 0) return
        listeners.delete(channel)
        transport?.unlisten(channel).catch(() => {})
      }
    },
    listenerCount (target) {
      return listeners.get(channelOf(target))?.size ?? 0
    },
    notify (notice) {
      deliverNotice(notice)
      publishRemote(BUS_NOTICE_CHANNEL, { origin, notice })
    },
    onNotice (listener) {
      noticeListeners.add(listener)
      return () => { noticeListeners.delete(listener) }
    }
  }

  fastify.decorate('bus', bus)
  // Runs before the store's own close (hooks close in reverse order of registration).
  fastify.addHook('onClose', async () => {
    listeners.clear()
    noticeListeners.clear()
    transport?.close()
    if (unanswered.size === 0) return
    let cutOff: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(unanswered),
      new Promise((resolve) => { cutOff = setTimeout(resolve, REDIS_QUIT_TIMEOUT_MS) })
    ])
    clearTimeout(cutOff)
  })
}, { name: 'bus', dependencies: ['store', 'metrics'] })
