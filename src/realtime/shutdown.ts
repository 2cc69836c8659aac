import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { WS_CLOSE_CODES } from '../../schemas/ws.ts'
import type { Connection } from './connection.ts'
import type { DeliveryTracker } from './delivery.ts'

/** How long shutdown waits for running commands before closing the sockets anyway. */
export const DRAIN_TIMEOUT_MS = 5000
/** How long closed sockets get to answer their close frame before they are terminated. */
const CLOSE_WAIT_MS = 2000

/** Presence goodbyes of closed connections, awaited before Redis and the database close. */
export class PendingCleanups {
  private readonly pending = new Set<Promise<unknown>>()
  private readonly log: FastifyBaseLogger

  constructor (log: FastifyBaseLogger) {
    this.log = log
  }

  track (work: Promise<unknown>): void {
    const tracked = work.catch((err: unknown) => { this.log.warn({ err }, 'connection cleanup failed') })
    this.pending.add(tracked)
    void tracked.finally(() => this.pending.delete(tracked))
  }

  async settled (): Promise<void> {
    await Promise.allSettled([...this.pending])
  }
}

export interface ShutdownDeps {
  connections: Map<string, Connection>
  /** Every socket of the endpoint, admitted or not. */
  sockets: Pick<FastifyInstance['websocketServer'], 'clients' | 'close'>
  delivery: DeliveryTracker
  /** The local deliveries still queued (fanout-queue.ts): the last commands' events go out before the close frames. */
  deliveries: { settled: () => Promise<void> }
  cleanups: PendingCleanups
  /** Stops what starts work on its own (heartbeat, notices) and makes the gateway refuse upgrades. */
  stopIntake: () => void
}

/**
 * On close: no new upgrades or frames, running commands finish (their acks are sent), then
 * every socket is closed with 1001 so clients reconnect elsewhere.
 */
export async function shutdown (deps: ShutdownDeps): Promise<void> {
  const { connections, sockets } = deps
  deps.stopIntake()
  const all = [...sockets.clients]
  for (const conn of connections.values()) conn.acceptingFrames = false
  await waitAtMost(Promise.all([...connections.values()].map(async (conn) => { await conn.idle() })), DRAIN_TIMEOUT_MS)
  await waitAtMost(deps.deliveries.settled(), DRAIN_TIMEOUT_MS)
  const closed = all.map(async (socket) => await new Promise<void>((resolve) => {
    if (socket.readyState === socket.CLOSED) { resolve(); return }
    socket.once('close', () => { resolve() })
    if (socket.readyState === socket.OPEN) socket.close(WS_CLOSE_CODES.goingAway, 'Server shutting down')
  }))
  await waitAtMost(Promise.all(closed), CLOSE_WAIT_MS)
  for (const socket of sockets.clients) socket.terminate()
  await deps.delivery.flush()
  await deps.cleanups.settled()
  await new Promise<void>((resolve) => { sockets.close(() => { resolve() }) })
}

async function waitAtMost (work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    work,
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  ])
  clearTimeout(timer)
}
