export interface UntilOptions {
  /** How long to keep trying before failing the test (10 s unless given). */
  timeoutMs?: number
  /** What the failure should show: the state the condition looked at. */
  describe?: () => unknown
}

/**
 * Polls `condition` every 20 ms until it holds, throwing once `timeoutMs` has passed. For state
 * that no event announces (a row written after the response, a socket the server has let go):
 * it waits on other processes (MariaDB, Redis, the network), so it runs on real time, never on
 * the app's clock.
 */
export async function until (condition: () => boolean | Promise<boolean>, options: UntilOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  while (!await condition()) {
    if (Date.now() > deadline) {
      const state = options.describe === undefined ? '' : `: ${JSON.stringify(await options.describe())}`
      throw new Error(`condition not met in time${state}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
