import type { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocketServer, WebSocket } from 'ws'
import { AppError } from '../lib/app-error.ts'
import { checkUpgrade, type UpgradeDeps, type WsAuth } from './upgrade.ts'

/*
 * The common upgrade without Fastify's request pipeline (issue 16.3): a GET of WS_PATH with a
 * ticket or a token in a plain query string. Fastify's hooks do nothing for it that the socket
 * keeps (security headers and request ids go on HTTP responses, and a 101 is written by `ws`),
 * yet they were most of a connect's cost and of the garbage 5,000 connects leave behind. The
 * checks are the route's own (checkUpgrade: per-address budget, Origin, credentials) and
 * anything that ends in an HTTP answer goes to the Fastify route instead, which answers it as
 * before: not an upgrade of this path, an unusual query (the schema's 400), a drain (503), an
 * instance under pressure (1013 after the route's own checks), a proxy-forwarded address (Fastify
 * reads it per TRUST_PROXY), and an address over its budget (429: counted here, so the route is
 * told instead of counting it again).
 */

/** Query values that need no decoding: base64url tickets, JWTs. */
const PLAIN_VALUE = /^[A-Za-z0-9._~-]*$/
const QUERY_BOUNDS: Readonly<Record<string, number>> = { token: 8192, ticket: 256 }

export interface LeanUpgradeDeps extends UpgradeDeps {
  path: string
  /** TRUST_PROXY is set: the client address is a forwarded one, which Fastify reads. */
  trustsProxy: boolean
  wss: WebSocketServer
  /** Where upgrades the lean path does not take go: @fastify/websocket's listener, through Fastify. */
  routed: EventEmitter
  /** Upgrades counted over their address's budget here, for the route to refuse without counting again. */
  counted: WeakMap<IncomingMessage, AppError>
  open: (socket: WebSocket, auth: WsAuth) => void
}

/** The query of an upgrade the lean path takes, or null for one it leaves to the route. */
export function plainQuery (search: string): { token?: string, ticket?: string } | null {
  const query: { token?: string, ticket?: string } = {}
  if (search === '') return query
  for (const pair of search.split('&')) {
    const eq = pair.indexOf('=')
    if (eq < 0) return null
    const key = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    const bound = QUERY_BOUNDS[key]
    if (bound === undefined || value.length > bound || !PLAIN_VALUE.test(value)) return null
    if (key === 'token') {
      if (query.token !== undefined) return null
      query.token = value
    } else {
      if (query.ticket !== undefined) return null
      query.ticket = value
    }
  }
  return query
}

function destroyOnError (this: Duplex): void {
  this.destroy()
}

/** The server's 'upgrade' listener. */
export function leanUpgrade (deps: LeanUpgradeDeps): (request: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (request, socket, head) => {
    const url = request.url ?? ''
    const mark = url.indexOf('?')
    const query = request.method === 'GET' && (mark < 0 ? url : url.slice(0, mark)) === deps.path ? plainQuery(mark < 0 ? '' : url.slice(mark + 1)) : null
    const ip = request.socket.remoteAddress
    if (query === null || ip === undefined || (deps.trustsProxy && request.headers['x-forwarded-for'] !== undefined) || deps.refusingUpgrades() || deps.underPressure()) {
      deps.routed.emit('upgrade', request, socket, head)
      return
    }
    // Node leaves an upgraded socket without an error listener: guarded until `ws` takes it.
    socket.on('error', destroyOnError)
    checkUpgrade(deps, ip, request.headers.origin, query).then((auth) => {
      socket.removeListener('error', destroyOnError)
      deps.wss.handleUpgrade(request, socket, head, (ws) => { deps.open(ws, auth) })
    }, (err: unknown) => {
      socket.removeListener('error', destroyOnError)
      if (err instanceof AppError) {
        deps.counted.set(request, err)
        deps.routed.emit('upgrade', request, socket, head)
        return
      }
      deps.log.error({ err }, 'upgrade failed')
      socket.destroy()
    })
  }
}
