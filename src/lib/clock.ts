/**
 * Time as presence, typing, rate limits and the store see it. The app runs on `systemClock`;
 * tests hand `buildApp` a clock they move themselves, so a 30 s grace or a one-second bucket
 * refill is checked to the millisecond without waiting for it. WebSocket pings, the auth
 * timeout and shutdown stay on real time: they measure the network, not the domain.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now: () => number
  /** Runs `run` once after `ms`. */
  setTimeout: (run: TimerRun, ms: number) => Timer
  /** Runs `run` every `ms` until cancelled. */
  setInterval: (run: TimerRun, ms: number) => Timer
}

/**
 * What a timer runs. It may return the promise of the work it starts: the real clock ignores
 * it; a test clock waits for it before the next timer, as real time would have let it finish.
 */
export type TimerRun = () => void | Promise<unknown>

/**
 * A scheduled run. Timers never hold the process open: their owners cancel them on close, and
 * a process that has nothing else to do may exit with them pending.
 */
export interface Timer {
  cancel: () => void
}

/** The real time and Node's timers, unref'd. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout (run, ms) {
    const timer = setTimeout(() => { void run() }, ms)
    timer.unref()
    return { cancel: () => { clearTimeout(timer) } }
  },
  setInterval (run, ms) {
    const timer = setInterval(() => { void run() }, ms)
    timer.unref()
    return { cancel: () => { clearInterval(timer) } }
  }
}
