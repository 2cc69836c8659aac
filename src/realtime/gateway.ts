import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { fixedWindowCounter } from '../lib/fixed-window.ts'
import { CommandTable } from './commands.ts'
import type { Connection } from './connection.ts'
import { UserConnections, followNotices } from './connection-index.ts'
import { createFanout } from './fanout.ts'
import { registerGatewayCommands } from './gateway-commands.ts'
import { startHeartbeat } from './heartbeat.ts'
import { PORT_PLUGINS, gatewayPorts } from './ports.ts'
import { WS_UPGRADE_LIMIT } from './rate-limit.ts'
import { PendingCleanups, shutdown } from './shutdown.ts'
import { registerEndpoint } from './endpoint.ts'
import type { SocketDeps } from './sockets.ts'
import type { UpgradeDeps } from './upgrade.ts'

export { REPLAY_LIMIT } from './subscriptions.ts'
export { DRAIN_TIMEOUT_MS } from './shutdown.ts'

/*
 * The WebSocket gateway (DESIGN §5): authenticates the upgrade, validates frames against the
 * schemas, dispatches them to the areas' commands, and fans bus events out to subscribed
 * sockets. It holds no domain rules: commands call the same services REST routes call, and
 * what the gateway itself needs of the areas comes through its ports (ports.ts). This file
 * only assembles the pieces, one concern per file:
 *
 *   ports.ts             what the gateway asks of auth, chat, groups, presence, users, notifications
 *   endpoint.ts          the WebSocket route
 *   upgrade.ts           the upgrade request: per-address limit, Origin, token or ticket in the URL
 *   sockets.ts           the socket handler and the listeners every socket shares
 *   admission.ts         the `auth` frame, admission (presence limit, chat:sync), release on close
 *   session-expiry.ts    closing with 4001 at the token's expiry or the session's end; re-auth
 *   connection-index.ts  connections by user, and the notices that reach them (blocks, ended sessions)
 *   dispatch.ts          frames in: rate limits, validation, the command queue, ack / error
 *   subscriptions.ts     join (replay), leave, eviction, the user's own events
 *   fanout.ts            group events to subscribed sockets, one frame per event
 *   heartbeat.ts         pings, dead sockets, subscriber refresh
 *   shutdown.ts          draining on close
 *
 * Close codes (schemas/ws.ts WS_CLOSE_CODES): 4001 bad or missing credentials (before any
 * event is sent), the connection's session ended (logout, refresh-token reuse, password
 * change: on every instance at once), or its access token expired without an in-place
 * re-auth (a later `auth` frame of the same user); 4003 an Origin outside WS_ALLOWED_ORIGINS (a join of a group the user is not
 * in is a chat:error FORBIDDEN, never a close: the other subscriptions stay); 4429 a client
 * that keeps sending after being rate limited, or a user past WS_MAX_CONNECTIONS_PER_USER
 * (counted across instances in Redis, per instance while Redis is down); 1009 a frame over
 * WS_MAX_PAYLOAD_BYTES; 1013 a client that does not read (its send buffer passed
 * WS_SEND_BUFFER_LIMIT_BYTES), or a new connection while the instance is overloaded; 1001 shutdown.
 */

export interface ConnectionInfo {
  id: string
  userId: number | null
  groups: string[]
  /** Bytes the server holds for the client; never far past WS_SEND_BUFFER_LIMIT_BYTES. */
  bufferedAmount: number
  /** False once the connection is closing (e.g. closed with 1013 for not reading). */
  open: boolean
}

export interface Gateway {
  /** The dispatch table areas add their commands to. */
  commands: CommandTable
  /** This instance's connections (for ops and tests). */
  connections: () => ConnectionInfo[]
  /**
   * Users subscribed to the group on any instance, `except` one (a sender): who gets its
   * events live. Read from counters, never from the member list.
   */
  audienceOf: (groupId: string, except: number) => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway
  }
}

export default fp(async function gatewayPlugin (fastify: FastifyInstance) {
  const { config } = fastify
  const log = fastify.log.child({ module: 'gateway' })
  const ports = gatewayPorts(fastify)
  const commands = new CommandTable()
  const connections = new Map<string, Connection>()
  const users = new UserConnections()
  const cleanups = new PendingCleanups(log)
  let draining = false

  /** How long a subscription counts across instances: three missed heartbeats. */
  const subscriberTtlMs = Math.max(3 * config.ws.pingIntervalMs, 1000)
  const fanout = createFanout({ bus: fastify.bus, backend: fastify.store.backend, clock: fastify.clock, meter: fastify.meter, log, markDelivered: ports.markDeliveredMany, reactions: ports.reactions, subscriberTtlMs })
  const deps: SocketDeps = {
    ports,
    log,
    meter: fastify.meter,
    bus: fastify.bus,
    subscribers: fastify.store.subscribers,
    fanout,
    subscriberTtlMs,
    commands,
    connections,
    users,
    cleanups,
    maxConnectionsPerUser: config.ws.maxConnectionsPerUser,
    rateLimitScale: config.rateLimitScale,
    sendBufferLimitBytes: config.ws.sendBufferLimitBytes,
    authTimeoutMs: config.ws.authTimeoutMs,
    clock: fastify.clock,
    draining: () => draining
  }

  const stopNotices = followNotices(fastify.bus, users)

  const upgrade: UpgradeDeps = {
    config,
    log,
    ports,
    refusingUpgrades: () => draining || fastify.isDraining(),
    underPressure: () => fastify.isUnderPressure(),
    countUpgrade: fixedWindowCounter(fastify.store),
    upgradeLimit: Math.max(1, Math.floor(WS_UPGRADE_LIMIT.perAddress * config.rateLimitScale))
  }
  await registerEndpoint(fastify, deps, upgrade, async () => {
    await shutdown({
      connections,
      sockets: fastify.websocketServer,
      delivery: fanout.delivery,
      deliveries: fanout.queue,
      cleanups,
      stopIntake: () => {
        draining = true
        stopHeartbeat()
        stopNotices()
      }
    })
  })

  registerGatewayCommands(commands, deps)

  const stopHeartbeat = startHeartbeat({ connections, subscribers: fastify.store.subscribers, fanout, subscriberTtlMs, pingIntervalMs: config.ws.pingIntervalMs })

  fastify.decorate('gateway', {
    commands,
    audienceOf: async (groupId, except) => Math.max(0, await fanout.audience.countExcept(groupId, except)),
    connections: () => [...connections.values()].map(connectionInfo)
  } satisfies Gateway)
}, { name: 'gateway', dependencies: ['bus', 'store', 'health', 'metrics', 'overload', ...PORT_PLUGINS] })

function connectionInfo (conn: Connection): ConnectionInfo {
  return {
    id: conn.id,
    userId: conn.user?.id ?? null,
    groups: [...conn.subscriptions.keys()],
    bufferedAmount: conn.socket.bufferedAmount,
    open: conn.open
  }
}
