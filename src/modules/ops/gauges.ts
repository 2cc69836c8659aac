import type { Pool } from 'mysql2'
import type { Meter } from '../../plugins/metrics.ts'
import type { ConnectionInfo } from '../../realtime/gateway.ts'

/** How a mysql2 pool is used right now, or null when this mysql2 does not show it. */
export interface PoolUsage {
  open: number
  inUse: number
  waiting: number
}

interface PoolInternals {
  _allConnections?: { length: number }
  _freeConnections?: { length: number }
  _connectionQueue?: { length: number }
}

/**
 * mysql2 keeps its pool's figures in fields it does not document (no public API reports them);
 * read defensively, so a mysql2 that renamed them yields no figure instead of a wrong one.
 */
export function poolUsage (pool: Pool): PoolUsage | null {
  const internals = pool as unknown as PoolInternals
  const open = internals._allConnections?.length
  const free = internals._freeConnections?.length
  const waiting = internals._connectionQueue?.length
  if (open === undefined || free === undefined || waiting === undefined) return null
  return { open, inUse: open - free, waiting }
}

export interface RuntimeSources {
  connections: () => ConnectionInfo[]
  /** The pools by name: `queries` (Kysely) and `sends` (the send transactions). */
  pools: Record<string, Pool>
  instanceId: string
  version: string
}

/** Gauges read at scrape time from the gateway and the database pools, and the instance's identity. */
export function registerRuntimeGauges (meter: Meter, sources: RuntimeSources): void {
  meter.gauge({
    name: 'parley_ws_connections',
    help: 'WebSocket connections open on this instance',
    collect: (sample) => { sample(sources.connections().length) }
  })
  meter.gauge({
    name: 'parley_ws_subscriptions',
    help: 'Group subscriptions of this instance\'s WebSocket connections',
    collect: (sample) => { sample(sources.connections().reduce((sum, conn) => sum + conn.groups.length, 0)) }
  })
  meter.gauge({
    name: 'parley_db_pool_connections',
    help: 'MySQL pool connections by pool and state (in_use, open; waiting = requests queued for one)',
    labelNames: ['pool', 'state'],
    collect: (sample) => {
      for (const [pool, instance] of Object.entries(sources.pools)) {
        const usage = poolUsage(instance)
        if (usage === null) continue
        sample(usage.inUse, { pool, state: 'in_use' })
        sample(usage.open, { pool, state: 'open' })
        sample(usage.waiting, { pool, state: 'waiting' })
      }
    }
  })
  meter.gauge({
    name: 'parley_instance_info',
    help: 'Always 1: this instance\'s id and version as labels',
    labelNames: ['instance_id', 'version'],
    collect: (sample) => { sample(1, { instance_id: sources.instanceId, version: sources.version }) }
  })
}
