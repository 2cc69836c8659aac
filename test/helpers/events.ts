import type { FastifyInstance } from 'fastify'
import type { ServerEvent } from '../../schemas/events.ts'
import type { BusTarget } from '../../src/plugins/bus.ts'

/** Records every event published to a bus target until the test ends. */
export function recordEvents (app: FastifyInstance, target: BusTarget, t: { teardown: (fn: () => void) => void }): ServerEvent[] {
  const events: ServerEvent[] = []
  const unsubscribe = app.bus.subscribe(target, (event) => { events.push(event) })
  t.teardown(unsubscribe)
  return events
}

/** The events of one type, with their payloads typed. */
export function eventsOfType<K extends ServerEvent['type']> (events: ServerEvent[], type: K): Array<Extract<ServerEvent, { type: K }>> {
  return events.filter((e): e is Extract<ServerEvent, { type: K }> => e.type === type)
}
