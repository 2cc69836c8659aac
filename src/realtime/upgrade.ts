import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { AuthUser } from '../plugins/auth.ts'
import type { Config } from '../config.ts'
import { AppError } from '../lib/app-error.ts'
import { addressKey } from '../lib/client-address.ts'
import type { FixedWindowCounter } from '../lib/fixed-window.ts'
import { wsUpgradeKey } from '../lib/store/keys.ts'
import { WS_UPGRADE_LIMIT } from './rate-limit.ts'
import type { GatewayPorts } from './ports.ts'

/*
 * The upgrade's HTTP request, before any socket exists: the per-address upgrade budget, the
 * Origin, and credentials in the URL (an access token or a single-use ticket). What it finds is
 * left on `request.wsAuth` for the socket handler (sockets.ts).
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the upgrade preHandler: who the credentials in the URL belong to. */
    wsAuth: WsAuth | null
  }
}

export type WsAuth = { user: AuthUser } | { refused: 'origin' | 'credentials' | 'overloaded' } | { pending: true }

export const WsQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 8192 })),
  ticket: Type.Optional(Type.String({ maxLength: 256 }))
})

export interface UpgradeDeps {
  config: Pick<Config, 'ws' | 'jwt'>
  log: FastifyBaseLogger
  ports: Pick<GatewayPorts, 'verifyAccessToken' | 'consumeTicket' | 'resumeSession'>
  /** True once the gateway or the instance drains: upgrades are refused with 503. */
  refusingUpgrades: () => boolean
  /** The instance is saturated (src/plugins/overload.ts). */
  underPressure: () => boolean
  countUpgrade: FixedWindowCounter
  /** Upgrades one address may open per WS_UPGRADE_LIMIT window (scaled by RATE_LIMIT_SCALE). */
  upgradeLimit: number
}

/** 429 before the upgrade for an address past its budget; Redis is best effort (an outage lets upgrades through). */
async function refuseIfTooManyUpgrades (deps: UpgradeDeps, ip: string): Promise<void> {
  let count: number
  let ttlMs: number
  try {
    [count, ttlMs] = await deps.countUpgrade(wsUpgradeKey(addressKey(ip)), WS_UPGRADE_LIMIT.windowMs)
  } catch (err) {
    deps.log.warn({ err: { message: (err as Error).message } }, 'upgrade counter unavailable')
    return
  }
  if (count <= deps.upgradeLimit) return
  throw new AppError('RATE_LIMIT_EXCEEDED', 'Too many WebSocket connections from this address. Please slow down.', {
    retryAfter: Math.max(1, Math.ceil(ttlMs / 1000)),
    limit: deps.upgradeLimit,
    remaining: 0,
    resetAt: new Date(Date.now() + ttlMs).toISOString()
  })
}

/**
 * Runs before the upgrade completes (the route's preHandler): credentials in the URL are checked
 * here. An upgrade the lean path (lean-upgrade.ts) already counted over its address's budget
 * comes here with that refusal, answered without counting it again.
 */
export async function authenticateUpgrade (deps: UpgradeDeps, request: FastifyRequest<{ Querystring: { token?: string, ticket?: string } }>, counted?: AppError): Promise<void> {
  const { config } = deps
  if (!request.ws) throw new AppError('NOT_FOUND', `${config.ws.path} only accepts WebSocket upgrades`)
  if (counted !== undefined) throw counted
  if (deps.refusingUpgrades()) throw new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down')
  // Saturated (src/plugins/overload.ts): no credentials checked, no ticket spent; closed with 1013.
  if (deps.underPressure()) {
    request.wsAuth = { refused: 'overloaded' }
    return
  }
  request.wsAuth = await checkUpgrade(deps, request.ip, request.headers.origin, request.query)
}

/**
 * The checks of an upgrade once it is known to be one that may open: the address's budget (429,
 * thrown), the Origin, then the credentials in the URL. Shared by the Fastify route and the lean
 * path, so both refuse and admit alike.
 */
export async function checkUpgrade (deps: UpgradeDeps, ip: string, origin: string | undefined, query: { token?: string, ticket?: string }): Promise<WsAuth> {
  const { config } = deps
  await refuseIfTooManyUpgrades(deps, ip)
  if (config.ws.allowedOrigins.length > 0 && origin !== undefined && !config.ws.allowedOrigins.includes(origin)) return { refused: 'origin' }
  const { token, ticket } = query
  if (token !== undefined) return await deps.ports.verifyAccessToken(token).then((user) => ({ user }), () => ({ refused: 'credentials' as const }))
  if (ticket !== undefined) return await authUserOfTicket(deps, ticket)
  return { pending: true }
}

async function authUserOfTicket (deps: UpgradeDeps, ticket: string): Promise<WsAuth> {
  const payload = await deps.ports.consumeTicket(ticket).catch((err: unknown) => {
    deps.log.warn({ err: { message: (err as Error).message } }, 'ticket lookup failed')
    return null
  })
  // A ticket outlives nothing: the session it was issued for must still be live.
  return payload === null
    ? { refused: 'credentials' }
    : await deps.ports.resumeSession(payload, payload.expiresAt ?? Date.now() + deps.config.jwt.accessTtlSeconds * 1000)
      .then((user) => ({ user }), () => ({ refused: 'credentials' as const }))
}
