import type { Clock, Timer, TimerRun } from '../../src/lib/clock.ts'

interface Scheduled {
  at: number
  /** The interval of a repeating timer, null for a one-shot. */
  every: number | null
  delay: number
  run: TimerRun
}

interface Waiter {
  after: number
  matches: (delayMs: number) => boolean
  resolve: () => void
}

/** How far ahead of the real time a manual clock starts. */
const LEAD_MS = 3600_000

/**
 * A clock the test moves: `now()` stands still until `advance`, which runs every timer that
 * comes due, in order, each at its own due time, and waits for the work a timer returns before
 * the next one (real time would have let it finish: a heartbeat lands before the check that
 * reads it). It starts an hour ahead of the real time and only moves forward, so expiries it
 * writes to Redis as absolute times stay in Redis's future however slowly the test runs.
 *
 * @example
 * const clock = new ManualClock()
 * const app = await buildTestApp(t, import.meta.url, { clock })
 * await clock.advance(30_000) // the grace passes at once, to the millisecond
 */
export class ManualClock implements Clock {
  private current: number
  private lastId = 0
  private readonly timers = new Map<number, Scheduled>()
  /** Every one-shot timer scheduled: id → delay. */
  private readonly oneShots = new Map<number, number>()
  private readonly waiters = new Set<Waiter>()

  constructor (start = Date.now() + LEAD_MS) {
    this.current = start
  }

  now (): number {
    return this.current
  }

  setTimeout (run: TimerRun, ms: number): Timer {
    return this.schedule(run, ms, null)
  }

  setInterval (run: TimerRun, ms: number): Timer {
    return this.schedule(run, ms, Math.max(1, ms))
  }

  /** A mark in the sequence of timers: `scheduled(mark, …)` waits for timers set after it. */
  mark (): number {
    return this.lastId
  }

  /**
   * Resolves once a one-shot timer whose delay `matches` is scheduled after `mark` (at once if
   * one already was): how a test knows the server has reached the point of setting it.
   */
  async scheduled (mark: number, matches: (delayMs: number) => boolean, timeoutMs = 15_000): Promise<void> {
    for (const [id, delay] of this.oneShots) if (id > mark && matches(delay)) return
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        after: mark,
        matches,
        resolve: () => { clearTimeout(timeout); resolve() }
      }
      const timeout = setTimeout(() => {
        this.waiters.delete(waiter)
        reject(new Error(`no matching timer scheduled within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  /** Moves time forward by `ms`, running the timers that come due and letting their work start. */
  async advance (ms: number): Promise<void> {
    const target = this.current + ms
    for (let next = this.nextDue(target); next !== null; next = this.nextDue(target)) {
      const [id, timer] = next
      this.current = Math.max(this.current, timer.at)
      if (timer.every === null) this.timers.delete(id)
      else timer.at += timer.every
      await timer.run()
      await new Promise((resolve) => setImmediate(resolve))
    }
    this.current = target
    await new Promise((resolve) => setImmediate(resolve))
  }

  private schedule (run: TimerRun, ms: number, every: number | null): Timer {
    this.lastId += 1
    const id = this.lastId
    const delay = Math.max(1, ms)
    this.timers.set(id, { at: this.current + delay, every, delay, run })
    if (every === null) {
      this.oneShots.set(id, delay)
      for (const waiter of this.waiters) {
        if (id > waiter.after && waiter.matches(delay)) {
          this.waiters.delete(waiter)
          waiter.resolve()
        }
      }
    }
    return { cancel: () => { this.timers.delete(id) } }
  }

  /** The earliest timer due by `until`; the first scheduled among equals. */
  private nextDue (until: number): [number, Scheduled] | null {
    let found: [number, Scheduled] | null = null
    for (const entry of this.timers) {
      if (entry[1].at > until) continue
      if (found === null || entry[1].at < found[1].at) found = entry
    }
    return found
  }
}
