import type { ServerEvent } from '../../../schemas/events.ts'
import { BUS_NOTICE_CHANNEL, busChannel } from '../../lib/store/keys.ts'
import { REDIS_QUIT_TIMEOUT_MS } from '../../lib/store/store.ts'
import type { BusTarget, InternalNotice, PublishOptions } from '../bus.ts'
import { deliver, deliverNotice } from './local-delivery.ts'
import type { BusState } from './state.ts'

/*
 * The bus between instances: envelopes out through the transport (tracked until Redis answers,
 * so a close can wait for them), envelopes in to the local listeners, and the close.
 */

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
 * Every envelope is written with `origin` first (publishRemote), so this instance's own
 * messages, which Redis sends back to it on every channel it listens to, are known by their
 * first bytes and dropped without parsing them.
 */
export function ownPrefixOf (origin: string): string {
  return JSON.stringify({ origin }).slice(0, -1)
}

/** An envelope from the transport, to the local listeners unless it is this instance's own. */
function receive (state: BusState, channel: string, raw: string): void {
  if (raw.startsWith(state.ownPrefix)) return
  let envelope: Envelope | NoticeEnvelope
  try { envelope = JSON.parse(raw) as Envelope | NoticeEnvelope } catch { return }
  if (envelope.origin === state.origin) return
  if (channel === BUS_NOTICE_CHANNEL) {
    if ('notice' in envelope) deliverNotice(state, envelope.notice)
  } else if ('event' in envelope) {
    deliver(state, channel, envelope.event, optionsOf(envelope))
  }
}

/** Hears the other instances: what the transport receives, and every notice from the start. */
export function listenToOthers (state: BusState): void {
  const { transport } = state
  if (transport === null) return
  transport.onMessage((channel, raw) => { receive(state, channel, raw) })
  // Every instance hears every notice, from the start (ioredis re-subscribes on reconnect).
  transport.listen(BUS_NOTICE_CHANNEL).catch((err: Error) => {
    state.log.warn({ err: { message: err.message } }, 'notice subscribe failed; retried on reconnect')
  })
}

function publishRemote (state: BusState, channel: string, message: Envelope | NoticeEnvelope): void {
  const { transport, unanswered } = state
  if (transport === null) return
  const published = transport.publish(channel, JSON.stringify(message)).catch((err: Error) => {
    state.meter.busPublishFailed()
    state.log.warn({ err: { message: err.message }, channel }, 'bus publish failed; local delivery only')
  }).finally(() => { unanswered.delete(published) })
  unanswered.add(published)
}

/** To local listeners now, to other instances through the transport. */
export function publish (state: BusState, target: BusTarget, event: ServerEvent, options: PublishOptions = NO_OPTIONS): void {
  const channel = busChannel(target)
  deliver(state, channel, event, options)
  publishRemote(state, channel, options === NO_OPTIONS ? { origin: state.origin, event } : { origin: state.origin, event, ...options })
}

/** To this instance's notice listeners (synchronously) and every other instance's. */
export function notify (state: BusState, notice: InternalNotice): void {
  deliverNotice(state, notice)
  publishRemote(state, BUS_NOTICE_CHANNEL, { origin: state.origin, notice })
}

/** Stops listening and waits (a bounded while) for the publishes Redis has not answered. */
export async function closeBus (state: BusState): Promise<void> {
  const { unanswered } = state
  state.listeners.clear()
  state.noticeListeners.clear()
  state.transport?.close()
  if (unanswered.size === 0) return
  let cutOff: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(unanswered),
    new Promise((resolve) => { cutOff = setTimeout(resolve, REDIS_QUIT_TIMEOUT_MS) })
  ])
  clearTimeout(cutOff)
}
