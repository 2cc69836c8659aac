import fp from 'fastify-plugin'
import { createMemoryStore, createRedisStore, untilReady, type Store } from '../lib/store/store.ts'
import { MEMORY_STORE_MAX_ENTRIES } from '../lib/store/memory-table.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Rate limits, failed sign-ins, tickets, subscriber counts, presence and the bus's transport. */
    store: Store
  }
}

/** How long the start waits for a Redis Cluster to be reachable before going on without it. */
const REDIS_CLUSTER_READY_TIMEOUT_MS = 5000

export interface StorePluginOptions {
  /** `null` for the single-node mode (REDIS_URL=memory). */
  url: string | null
  keyPrefix: string
  /** Entries the in-process store holds at most (single-node mode only). */
  maxEntries?: number
}

/**
 * The shared state store: Redis when REDIS_URL names one, else this process's memory.
 * Needs `fastify.clock` (decorated by buildApp): the in-process store expires on it.
 */
export default fp<StorePluginOptions>(async function storePlugin (fastify, opts) {
  const log = fastify.log.child({ module: 'store' })
  const store = opts.url === null
    ? createMemoryStore({
      clock: fastify.clock,
      maxEntries: opts.maxEntries ?? MEMORY_STORE_MAX_ENTRIES,
      onFull: (details) => { log.warn(details, 'in-process store full: evicting the entries written longest ago') }
    })
    : createRedisStore({
      url: opts.url,
      keyPrefix: opts.keyPrefix,
      clock: fastify.clock,
      onError: (err, source) => { log.warn({ err: { message: err.message }, source }, 'redis error') }
    })
  if (store.backend.kind === 'redis') await untilReady(store.backend.redis, REDIS_CLUSTER_READY_TIMEOUT_MS)
  fastify.decorate('store', store)
  // Closes after the plugins registered later (the bus's last publishes, presence goodbyes).
  fastify.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
