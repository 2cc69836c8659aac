import type { FastifyBaseLogger } from 'fastify'
import { systemClock, type Clock, type Timer } from '../../lib/clock.ts'

/** A background loop that runs when woken, at every poll, and never twice at once. */
export interface Pump {
  /** Runs now, or once more right after the run in progress. */
  wake: () => void
  /** Runs once in `ms` (a retry that falls due between polls). */
  wakeIn: (ms: number) => void
  /** Stops polling and waits for the run in progress. */
  close: () => Promise<void>
}

/**
 * `round` does one bounded batch and says whether more may be waiting; rounds repeat until it
 * says no. A failed round is logged and retried at the next poll or wake.
 *
 * `wakeIn` (a retry's backoff) runs on `clock`, the time the rows' due dates are written in. The
 * poll stays on real time: it looks for work other instances committed, and a test clock moved
 * by a day must not replay a day of polls.
 */
export function createPump (name: string, round: () => Promise<boolean>, pollMs: number, log: FastifyBaseLogger, clock: Clock = systemClock): Pump {
  let running: Promise<void> | null = null
  let again = false
  let closed = false
  const timers = new Set<Timer>()

  async function drain (): Promise<void> {
    try {
      let more = true
      while (more) more = await round() && !closed
    } catch (err) {
      log.error({ err }, `${name} failed; retried at the next poll`)
    }
  }

  function wake (): void {
    if (closed) return
    if (running !== null) {
      again = true
      return
    }
    running = drain().finally(() => {
      running = null
      if (again) {
        again = false
        wake()
      }
    })
  }

  const poll = setInterval(wake, pollMs)
  poll.unref()

  return {
    wake,
    wakeIn (ms) {
      if (closed) return
      const timer = clock.setTimeout(() => {
        timers.delete(timer)
        wake()
      }, ms)
      timers.add(timer)
    },
    async close () {
      closed = true
      clearInterval(poll)
      for (const timer of timers) timer.cancel()
      timers.clear()
      await running
    }
  }
}
