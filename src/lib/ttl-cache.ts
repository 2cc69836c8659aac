import { LRUCache } from 'lru-cache'

export interface TtlCacheOptions<V> {
  /** Most entries held; the least recently used goes first. */
  max: number
  /** An entry is stale (never returned) once it is this old. */
  ttlMs: number
  /** Bound on the entries' total size instead, with each entry's size. */
  maxSize?: number
  sizeOf?: (value: V) => number
  /** The clock, in ms (tests hand in their own). */
  now?: () => number
}

/**
 * Every in-process cache of the service (sessions, external users, memberships): bounded, and
 * each entry trusted for a fixed window after it was read (the windows and why each is safe:
 * README "Consistency windows"). lru-cache with two of its defaults changed: an entry is stale
 * from the moment its age reaches the window (lru-cache keeps it one millisecond longer), and
 * the clock is read on every lookup (lru-cache would reuse a reading for a millisecond).
 */
export function ttlCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>> (options: TtlCacheOptions<V>): LRUCache<K, V> {
  const now = options.now ?? Date.now
  const sizes = options.maxSize !== undefined && options.sizeOf !== undefined
    ? { maxSize: options.maxSize, sizeCalculation: (value: V) => Math.max(1, options.sizeOf?.(value) ?? 1) }
    : {}
  return new LRUCache<K, V>({
    max: options.max,
    ttl: Math.max(1, options.ttlMs - 1),
    ttlResolution: 0,
    // Shifted by one: lru-cache reads an entry set at time 0 as one without expiry.
    perf: { now: () => now() + 1 },
    ...sizes
  })
}
