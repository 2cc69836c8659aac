/**
 * Time as presence, typing, rate limits and the in-process store see it. The app runs on
 * `systemClock`; tests hand `buildApp` a clock they move themselves, so a 30 s grace or a
 * one-second bucket refill is checked to the millisecond without waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now: () => number
  /** Runs `run` once after `ms`. */
  setTimeout: (run: () => void, ms: number) => Timer
  /** Runs `run` every `ms` until cancelled. */
  setInterval: (run: () => void, ms: number) => Timer
}

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
    const timer = setTimeout(run, ms)
    timer.unref()
    return { cancel: () => { clearTimeout(timer) } }
  },
  setInterval (run, ms) {
    const timer = setInterval(run, ms)
    timer.unref()
    return { cancel: () => { clearInterval(timer) } }
  }
}
