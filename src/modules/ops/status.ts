import { sql, type Kysely } from 'kysely'
import type { Pool } from 'mysql2'
import type { Database } from '../../../db/database.ts'
import type { ServerStatus } from '../../../schemas/ops.ts'
import type { Store } from '../../lib/store/store.ts'
import type { ConnectionInfo } from '../../realtime/gateway.ts'
import { poolUsage } from './gauges.ts'

/** A dependency that does not answer within this is down, as /ready judges it. */
const CHECK_TIMEOUT_MS = 1500

export interface StatusSources {
  version: string
  instanceId: string
  startedAt: Date
  db: Kysely<Database>
  queryPool: Pool
  poolSize: number
  store: Store
  connections: () => ConnectionInfo[]
  isDraining: () => boolean
  webhookOutboxDepth: () => Promise<number | null>
}

async function answersInTime (work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, CHECK_TIMEOUT_MS) })
  try {
    return await Promise.race([work.then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** This instance as an administrator sees it: identity, load and the state of its dependencies. */
export async function serverStatus (sources: StatusSources): Promise<ServerStatus> {
  const [mysqlUp, redisUp, outboxDepth] = await Promise.all([
    answersInTime(sql`SELECT 1`.execute(sources.db)),
    answersInTime(sources.store.check()),
    sources.webhookOutboxDepth()
  ])
  const connections = sources.connections()
  return {
    version: sources.version,
    instanceId: sources.instanceId,
    startedAt: sources.startedAt.toISOString(),
    uptimeSeconds: (Date.now() - sources.startedAt.getTime()) / 1000,
    draining: sources.isDraining(),
    connections: {
      websockets: connections.length,
      users: new Set(connections.map((conn) => conn.userId).filter((id) => id !== null)).size,
      subscriptions: connections.reduce((sum, conn) => sum + conn.groups.length, 0)
    },
    mysql: { state: mysqlUp ? 'up' : 'down', poolInUse: poolUsage(sources.queryPool)?.inUse ?? 0, poolSize: sources.poolSize },
    redis: sources.store.backend.kind === 'redis'
      ? { state: redisUp ? 'up' : 'down', connection: sources.store.backend.redis.status }
      : { state: 'memory', connection: 'memory' },
    webhookOutbox: outboxDepth === null ? null : { depth: outboxDepth }
  }
}
