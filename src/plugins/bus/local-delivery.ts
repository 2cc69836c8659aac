import type { ServerEvent } from '../../../schemas/events.ts'
import type { BusListener, InternalNotice, NoticeListener, PublishOptions } from '../bus.ts'
import type { BusState } from './state.ts'

/*
 * This instance's listeners: subscribing (the instance listens to a channel on Redis while
 * anyone here does) and delivering to them. Delivery never waits for Redis.
 */

export function deliver (state: BusState, channel: string, event: ServerEvent, options: PublishOptions): void {
  const set = state.listeners.get(channel)
  if (set === undefined) return
  for (const listener of [...set]) {
    try {
      listener(event, options)
    } catch (err) {
      state.log.error({ err, type: event.type }, 'bus listener failed')
    }
  }
}

export function deliverNotice (state: BusState, notice: InternalNotice): void {
  for (const listener of [...state.noticeListeners]) {
    try {
      listener(notice)
    } catch (err) {
      state.log.error({ err, type: notice.type }, 'notice listener failed')
    }
  }
}

export function subscribe (state: BusState, channel: string, listener: BusListener): () => void {
  const { listeners, transport } = state
  let set = listeners.get(channel)
  if (set === undefined) {
    set = new Set()
    listeners.set(channel, set)
    transport?.listen(channel).catch((err: Error) => {
      state.log.warn({ err: { message: err.message }, channel }, 'bus subscribe failed; retried on reconnect')
    })
  }
  set.add(listener)
  return () => {
    const current = listeners.get(channel)
    if (current === undefined || !current.delete(listener) || current.size > 0) return
    listeners.delete(channel)
    transport?.unlisten(channel).catch(() => {})
  }
}

export function onNotice (state: BusState, listener: NoticeListener): () => void {
  state.noticeListeners.add(listener)
  return () => { state.noticeListeners.delete(listener) }
}
