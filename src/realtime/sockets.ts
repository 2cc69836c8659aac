import type { WebSocket } from '@fastify/websocket'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { RawData } from 'ws'
import type { ServerResponse } from 'node:http'
import type { Clock } from '../lib/clock.ts'
import { WS_CLOSE_CODES } from '../../schemas/ws.ts'
import { Connection } from './connection.ts'
import { admit, release } from './admission.ts'
import { onMessage, type DispatchDeps } from './dispatch.ts'
import type { WsAuth } from './upgrade.ts'

/*
 * The socket side of the endpoint. Per-socket memory is nothing beyond the Connection and ws's
 * own state: the listeners are shared by every socket and find the connection by its socket.
 */

export interface SocketDeps extends DispatchDeps {
  rateLimitScale: number
  sendBufferLimitBytes: number
  authTimeoutMs: number
  clock: Clock
  /** True once the gateway drains: a socket that opens anyway is closed with 1001. */
  draining: () => boolean
}

export interface SocketListeners {
  message: (this: WebSocket, data: RawData, isBinary: boolean) => void
  pong: (this: WebSocket) => void
  close: (this: WebSocket) => void
  error: (this: WebSocket, err: Error) => void
}

/** The listeners every socket shares, once per gateway. */
export function socketListeners (deps: DispatchDeps, connectionOf: WeakMap<WebSocket, Connection>): SocketListeners {
  return {
    message (data, isBinary) {
      const conn = connectionOf.get(this)
      if (conn !== undefined) onMessage(deps, conn, data, isBinary)
    },
    pong () {
      const conn = connectionOf.get(this)
      if (conn !== undefined) conn.alive = true
    },
    close () {
      const conn = connectionOf.get(this)
      if (conn !== undefined) release(deps, conn)
    },
    error (err) {
      socketError(deps.log, this, err)
    }
  }
}

/** The handling of a socket error, shared with @fastify/websocket's errorHandler. */
export function socketError (log: FastifyBaseLogger, socket: WebSocket, err: Error): void {
  log.warn({ err: { message: err.message } }, 'websocket error')
  socket.terminate()
}

/**
 * Lets the upgrade's HTTP request and reply go (issue 16.3: they were ~15 KB a socket, kept
 * for the socket's whole life). @fastify/websocket's error listener closes over them, and the
 * TCP socket still points at the reply it was assigned to; a shared error listener (the same
 * handling as the plugin's errorHandler) and a detached reply hold nothing.
 */
function releaseUpgrade (socket: WebSocket, request: FastifyRequest, onError: SocketListeners['error']): void {
  socket.removeAllListeners('error')
  socket.on('error', onError)
  const tcp = request.raw.socket as (typeof request.raw.socket & { _httpMessage?: ServerResponse | null }) | null
  const response = tcp?._httpMessage
  if (tcp !== null && response !== undefined && response !== null) response.detachSocket(tcp)
}

/** The Fastify route's handler (upgrades the lean path left to Fastify): the request is let go, then as openConnection. */
export function openRouted (deps: SocketDeps, listeners: SocketListeners, connectionOf: WeakMap<WebSocket, Connection>, socket: WebSocket, request: FastifyRequest): void {
  releaseUpgrade(socket, request, listeners.error)
  openConnection(deps, listeners, connectionOf, socket, request.wsAuth)
}

/** A Connection for an upgraded socket: refused, awaiting an `auth` frame, or admitted. The socket's error listener is already set. */
export function openConnection (deps: SocketDeps, listeners: SocketListeners, connectionOf: WeakMap<WebSocket, Connection>, socket: WebSocket, auth: WsAuth | null): void {
  const conn = new Connection(socket, { rateLimitScale: deps.rateLimitScale, sendBufferLimitBytes: deps.sendBufferLimitBytes, clock: deps.clock })
  // Handlers first, synchronously: frames that arrive during any await below are not lost.
  connectionOf.set(socket, conn)
  socket.on('message', listeners.message)
  socket.on('pong', listeners.pong)
  socket.on('close', listeners.close)

  if (auth === null || 'refused' in auth) {
    conn.state = 'closed'
    if (auth !== null && auth.refused === 'origin') conn.close(WS_CLOSE_CODES.forbidden, 'Origin not allowed')
    else if (auth !== null && auth.refused === 'overloaded') conn.close(WS_CLOSE_CODES.tryAgainLater, 'Server overloaded: try again later')
    else conn.close(WS_CLOSE_CODES.authFailed, 'Invalid or expired credentials')
    return
  }
  if (deps.draining()) {
    conn.close(WS_CLOSE_CODES.goingAway, 'Server shutting down')
    return
  }
  if ('pending' in auth) {
    conn.authTimer = setTimeout(() => {
      if (conn.state === 'awaiting-auth') conn.close(WS_CLOSE_CODES.authFailed, 'Authentication timed out')
    }, deps.authTimeoutMs)
    conn.authTimer.unref()
    return
  }
  conn.state = 'authenticating'
  deps.connections.set(conn.id, conn)
  conn.enqueue(async () => {
    await admit(deps, conn, auth.user).catch((err: unknown) => {
      deps.log.error({ err }, 'admission failed')
      conn.close(WS_CLOSE_CODES.tryAgainLater, 'Try again later')
    })
  })
}
