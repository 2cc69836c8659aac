import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { ServerEvent } from '../../schemas/events.ts'
import { REDIS_QUIT_TIMEOUT_MS } from './redis.ts'

/** Where an event goes: everyone subscribed to a group, or every connection of one user. */
export type BusTarget = { groupId: string } | { userId: number }
export type BusListener = (event: ServerEvent) => void

export interface Bus {
  /** Delivers to local listeners now and to other instances through Redis pub/sub. */
  publish: (target: BusTarget, event: ServerEvent) => void
  /** Listens to a target; the instance subscribes to its Redis channel while anyone listens. */
  subscribe: (target: BusTarget, listener: BusListener) => () => void
  /** Number of local listeners of a target. */
  listenerCount: (target: BusTarget) => number
}

declare module 'fastify' {
  interface FastifyInstance {
    bus: Bus
  }
}

interface Envelope {
  origin: string
  event: ServerEvent
}

const channelOf = (target: BusTarget): string => 'groupId' in target ? `g:${target.groupId}` : `u:${target.userId}`

/**
 * The event bus of DESIGN §6. Services publish after commit. Delivery to local listeners never
 * waits for Redis, so a Redis outage loses only cross-instance fanout, which resumes on its own
 * when the subscriber reconnects (ioredis re-subscribes every channel).
 */
export default fp(async function busPlugin (fastify) {
  const origin = randomUUID()
  const listeners = new Map<string, Set<BusListener>>()
  const prefix = fastify.redisName('bus:')
  const meter = fastify.meter
  let subscriber: Redis | null = null
  // Publishes not yet answered by Redis: shutdown waits for them, so the last events before it
  // still reach the other instances.
  const unanswered = new Set<Promise<unknown>>()

  function deliver (channel: string, event: ServerEvent): void {
    const set = listeners.get(channel)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        listener(event)
      } catch (err) {
        fastify.log.error({ err, type: event.type }, 'bus listener failed')
      }
    }
  }

  if (fastify.redisShared) {
    const sub = fastify.redis.duplicate({ keyPrefix: '', enableAutoPipelining: false })
    subscriber = sub
    sub.on('error', (err: Error) => { fastify.log.warn({ err: { message: err.message } }, 'bus subscriber error') })
    sub.on('message', (channel: string, raw: string) => {
      let envelope: Envelope
      try { envelope = JSON.parse(raw) as Envelope } catch { return }
      if (envelope.origin === origin) return
      deliver(channel.slice(prefix.length), envelope.event)
    })
  }

  const bus: Bus = {
    publish (target, event) {
      const channel = channelOf(target)
      deliver(channel, event)
      if (fastify.redisShared) {
        const envelope: Envelope = { origin, event }
        const published = fastify.redis.publish(prefix + channel, JSON.stringify(envelope)).catch((err: Error) => {
          meter.busPublishFailed()
          fastify.log.warn({ err: { message: err.message }, channel }, 'bus publish failed; local delivery only')
        }).finally(() => { unanswered.delete(published) })
        unanswered.add(published)
      }
    },
    subscribe (target, listener) {
      const channel = channelOf(target)
      let set = listeners.get(channel)
      if (set === undefined) {
        set = new Set()
        listeners.set(channel, set)
        subscriber?.subscribe(prefix + channel).catch((err: Error) => {
          fastify.log.warn({ err: { message: err.message }, channel }, 'bus subscribe failed; retried on reconnect')
        })
      }
      set.add(listener)
      return () => {
        const current = listeners.get(channel)
        if (current === undefined || !current.delete(listener) || current.size > 0) return
        listeners.delete(channel)
        subscriber?.unsubscribe(prefix + channel).catch(() => {})
      }
    },
    listenerCount (target) {
      return listeners.get(channelOf(target))?.size ?? 0
    }
  }

  fastify.decorate('bus', bus)
  // Runs before the Redis plugin's own close (hooks close in reverse order of registration).
  fastify.addHook('onClose', async () => {
    listeners.clear()
    subscriber?.disconnect()
    if (unanswered.size === 0) return
    let cutOff: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(unanswered),
      new Promise((resolve) => { cutOff = setTimeout(resolve, REDIS_QUIT_TIMEOUT_MS) })
    ])
    clearTimeout(cutOff)
  })
}, { name: 'bus', dependencies: ['redis', 'metrics'] })
