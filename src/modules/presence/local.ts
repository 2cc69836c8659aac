import type { Timer } from '../../lib/clock.ts'

/**
 * What this instance knows on its own: its connections (the connection limit and liveness
 * while Redis is down), the timers it owes (offline after the grace, typing expiry) and the
 * work those timers started, awaited on close so nothing runs against a closed pool.
 */
export class LocalPresence {
  /** This instance's connections, by user. */
  readonly connections = new Map<number, Set<string>>()
  /** Offline checks waiting for the grace to pass, by user. */
  readonly graceTimers = new Map<number, Timer>()
  /** Disconnects still being recorded in the store, by user. */
  readonly closingByUser = new Map<number, Set<Promise<unknown>>>()
  /** Typing expiries, by `<groupId>|<userId>`, with when the indicator started. */
  readonly typingTimers = new Map<string, { timer: Timer, startedAt: number }>()
  private readonly inFlight = new Set<Promise<unknown>>()
  private closed = false

  get isClosed (): boolean {
    return this.closed
  }

  /** The user's connections on this instance. */
  connectionCount (userId: number): number {
    return this.connections.get(userId)?.size ?? 0
  }

  /** Keeps `work` until it settles, so close waits for it. */
  track<T> (work: Promise<T>): Promise<T> {
    this.inFlight.add(work)
    void work.finally(() => this.inFlight.delete(work)).catch(() => {})
    return work
  }

  /** Cancels every timer and waits for the work they started. */
  async close (): Promise<void> {
    this.closed = true
    for (const timer of this.graceTimers.values()) timer.cancel()
    for (const { timer } of this.typingTimers.values()) timer.cancel()
    this.graceTimers.clear()
    this.typingTimers.clear()
    await Promise.allSettled([...this.inFlight])
  }
}
