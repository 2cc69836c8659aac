import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import packageJson from '../../../package.json' with { type: 'json' }
import type { ServerStatus } from '../../../schemas/ops.ts'
import { registerRuntimeGauges } from './gauges.ts'
import { serverStatus } from './status.ts'

/** This running instance: who it is and how it is doing (GET /status, the runtime gauges of /metrics). */
export interface OpsService {
  /** Unique per process start: the host name, the process id and a random part. */
  instanceId: string
  status: () => Promise<ServerStatus>
}

declare module 'fastify' {
  interface FastifyInstance {
    opsService: OpsService
  }
}

export default fp(async function opsServicePlugin (fastify) {
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const startedAt = new Date()
  const connections = fastify.gateway.connections
  registerRuntimeGauges(fastify.meter, {
    connections,
    pools: { queries: fastify.queryPool, sends: fastify.sendBatcher.pool.pool },
    instanceId,
    version: packageJson.version
  })
  const sources = {
    version: packageJson.version,
    instanceId,
    startedAt,
    db: fastify.db,
    queryPool: fastify.queryPool,
    poolSize: fastify.config.databasePoolSize,
    store: fastify.store,
    connections,
    isDraining: fastify.isDraining,
    webhookOutboxDepth: fastify.meter.webhookOutboxDepth
  }
  fastify.decorate('opsService', { instanceId, status: async () => await serverStatus(sources) } satisfies OpsService)
}, { name: 'ops-service', dependencies: ['db', 'send-batcher', 'store', 'metrics', 'health', 'gateway'] })
