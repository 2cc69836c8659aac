import type { Store } from './store/store.ts'

/** Counts one hit in `key`'s window: resolves with the hits so far and the window's remaining ms. */
export type FixedWindowCounter = (key: string, windowMs: number) => Promise<[count: number, ttlMs: number]>

/**
 * A fixed-window counter on the store: in Redis one atomic script call per hit, shared by every
 * instance; in the in-process store, this node's. Key names come from src/lib/store/keys.ts.
 */
export function fixedWindowCounter (store: Store): FixedWindowCounter {
  const { counters } = store
  return async (key, windowMs) => {
    const { count, ttlMs } = await counters.hit(key, windowMs)
    return [count, ttlMs]
  }
}
