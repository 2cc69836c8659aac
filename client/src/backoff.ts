export interface BackoffOptions {
  /** The first delay's ceiling, ms. */
  initialMs: number
  /** No delay is longer than this, ms. */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 }

/**
 * The delay before retry number `attempt` (0-based): an exponential ceiling
 * `initialMs · 2^attempt` capped at `maxMs`, of which a random half is taken off ("equal
 * jitter"), so many clients dropped at once (a server restart) do not come back in step.
 */
export function backoffDelay (attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30))
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}
