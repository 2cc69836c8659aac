import { Type, type Static, type TSchema } from '@sinclair/typebox'

/*
 * Operations endpoints outside the API prefix (DESIGN §4 "ops"). /health, /ready and /metrics
 * (Prometheus text) are not JSON shapes of their own; /status, for system administrators, is.
 */

const DependencyState = Type.Union([Type.Literal('up'), Type.Literal('down')])

export const ServerStatus = Type.Object({
  version: Type.String({ description: 'The service version (package.json)' }),
  instanceId: Type.String({ description: 'This process; changes on every start' }),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Number({ minimum: 0 }),
  draining: Type.Boolean({ description: 'Shutting down: /ready answers 503' }),
  connections: Type.Object({
    websockets: Type.Integer({ minimum: 0, description: 'WebSocket connections open on this instance' }),
    users: Type.Integer({ minimum: 0, description: 'Distinct authenticated users among them' }),
    subscriptions: Type.Integer({ minimum: 0, description: 'Group subscriptions of those connections' })
  }),
  mysql: Type.Object({
    state: DependencyState,
    poolInUse: Type.Integer({ minimum: 0, description: 'Connections of the query pool taken right now' }),
    poolSize: Type.Integer({ minimum: 1, description: 'DATABASE_POOL_SIZE' })
  }),
  redis: Type.Object({
    state: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('memory')], { description: 'memory: REDIS_URL=memory, single node' }),
    connection: Type.String({ description: 'The client\'s connection state (ready, reconnecting…)' })
  }),
  webhookOutbox: Type.Union([
    Type.Object({ depth: Type.Integer({ minimum: 0, description: 'Deliveries waiting, dead letters excluded' }) }),
    Type.Null()
  ], { description: 'null while the service has no webhook outbox' })
}, { $id: 'ServerStatus' })
export type ServerStatus = Static<typeof ServerStatus>

export const opsSchemas: TSchema[] = [ServerStatus]
