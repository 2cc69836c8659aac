/**
 * Coalesces lookups made in the same turn of the event loop into one batched load: the first
 * `load(key)` of a turn schedules the batch for the end of the turn, later ones join it, and
 * each caller gets its own key's value. Many WebSocket connections admitted together thus
 * share one query instead of one each. Keys missing from the loaded map get `fallback`.
 *
 * @example
 * const syncRows = tickBatch(async (userIds) => await repo.syncRowsOf(userIds), [])
 * const rows = await syncRows(userId)
 */
export function tickBatch<K, V> (loadMany: (keys: K[]) => Promise<Map<K, V>>, fallback: V, maxBatch = 500): (key: K) => Promise<V> {
  let pending: Map<K, Array<{ resolve: (value: V) => void, reject: (err: unknown) => void }>> | null = null

  function run (batch: Map<K, Array<{ resolve: (value: V) => void, reject: (err: unknown) => void }>>): void {
    loadMany([...batch.keys()]).then((values) => {
      for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(values.get(key) ?? fallback)
    }, (err: unknown) => {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(err)
    })
  }

  return async (key) => await new Promise<V>((resolve, reject) => {
    if (pending === null) {
      const batch = new Map<K, Array<{ resolve: (value: V) => void, reject: (err: unknown) => void }>>()
      pending = batch
      setImmediate(() => {
        if (pending === batch) pending = null
        run(batch)
      })
    }
    const waiters = pending.get(key)
    if (waiters !== undefined) waiters.push({ resolve, reject })
    else pending.set(key, [{ resolve, reject }])
    // A full batch leaves now; the next lookup starts another.
    if (pending.size >= maxBatch) pending = null
  })
}
