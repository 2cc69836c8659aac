import { EventEmitter } from 'node:events'
import type { IncomingMessage, Server } from 'node:http'
import websocket, { type WebSocket } from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ErrorResponse, Ref } from '../../schemas/common.ts'
import type { AppError } from '../lib/app-error.ts'
import type { Connection } from './connection.ts'
import { leanUpgrade } from './lean-upgrade.ts'
import { openConnection, openRouted, socketError, socketListeners, type SocketDeps } from './sockets.ts'
import { authenticateUpgrade, WsQuery, type UpgradeDeps } from './upgrade.ts'

/**
 * The WebSocket endpoint at WS_PATH. Upgrades come to the lean path first (lean-upgrade.ts),
 * which opens the common ones itself; the rest go through the Fastify route (@fastify/websocket
 * with the upgrade checked in its preHandler, upgrade.ts), which answers them as any request.
 * Either way the socket goes to sockets.ts, and `shutdown` runs before the server closes.
 */
export async function registerEndpoint (fastify: FastifyInstance, deps: SocketDeps, upgrade: UpgradeDeps, shutdown: () => Promise<void>): Promise<void> {
  const { config } = fastify
  // @fastify/websocket listens here instead of on the server: the lean path hands it what it leaves.
  const routed = new EventEmitter()
  await fastify.register(websocket, {
    options: { maxPayload: config.ws.maxPayloadBytes, perMessageDeflate: false, server: routed as unknown as Server },
    errorHandler: (err, socket) => { socketError(deps.log, socket, err) },
    preClose: shutdown
  })

  fastify.decorateRequest('wsAuth', null)

  const connectionOf = new WeakMap<WebSocket, Connection>()
  const listeners = socketListeners(deps, connectionOf)
  const counted = new WeakMap<IncomingMessage, AppError>()

  fastify.server.on('upgrade', leanUpgrade({
    ...upgrade,
    path: config.ws.path,
    trustsProxy: config.trustProxy.length > 0,
    wss: fastify.websocketServer,
    routed,
    counted,
    open: (socket, auth) => {
      socket.on('error', listeners.error)
      openConnection(deps, listeners, connectionOf, socket, auth)
    }
  }))

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
    preHandler: async (request: FastifyRequest<{ Querystring: { token?: string, ticket?: string } }>) => { await authenticateUpgrade(upgrade, request, counted.get(request.raw)) }
  }, (socket: WebSocket, request: FastifyRequest) => { openRouted(deps, listeners, connectionOf, socket, request) })
}
