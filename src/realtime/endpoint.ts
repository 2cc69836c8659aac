import websocket, { type WebSocket } from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ErrorResponse, Ref } from '../../schemas/common.ts'
import type { Connection } from './connection.ts'
import { openConnection, socketError, socketListeners, type SocketDeps } from './sockets.ts'
import { authenticateUpgrade, WsQuery, type UpgradeDeps } from './upgrade.ts'

/**
 * The WebSocket route at WS_PATH: @fastify/websocket with the configured payload limit, the
 * upgrade checked in its preHandler (upgrade.ts), the socket handed to sockets.ts, and
 * `shutdown` run before the server closes.
 */
export async function registerEndpoint (fastify: FastifyInstance, deps: SocketDeps, upgrade: UpgradeDeps, shutdown: () => Promise<void>): Promise<void> {
  const { config } = fastify
  await fastify.register(websocket, {
    options: { maxPayload: config.ws.maxPayloadBytes, perMessageDeflate: false },
    errorHandler: (err, socket) => { socketError(deps.log, socket, err) },
    preClose: shutdown
  })

  fastify.decorateRequest('wsAuth', null)

  const connectionOf = new WeakMap<WebSocket, Connection>()
  const listeners = socketListeners(deps, connectionOf)

  fastify.get(config.ws.path, {
    websocket: true,
    schema: {
      querystring: WsQuery,
      hide: true,
      response: { 400: Ref(ErrorResponse), 404: Ref(ErrorResponse), 429: Ref(ErrorResponse), 503: Ref(ErrorResponse) }
    },
    // Upgrades have their own per-address limit (upgrade.ts), besides the per-user connection
    // limit and the auth timeout.
    config: { rateLimit: false },
    preHandler: async (request: FastifyRequest<{ Querystring: { token?: string, ticket?: string } }>) => { await authenticateUpgrade(upgrade, request) }
  }, (socket: WebSocket, request: FastifyRequest) => { openConnection(deps, listeners, connectionOf, socket, request) })
}
