import { createHash, randomBytes } from 'node:crypto'
import type { WsTicket } from '../../../schemas/auth.ts'
import type { AccessTokenPayload } from '../../plugins/auth.ts'
import { wsTicketKey } from '../../lib/store/keys.ts'
import type { Store } from '../../lib/store/store.ts'
import type { AuthDeps } from './deps.ts'

/** How long a WebSocket ticket stays valid (DESIGN §4). */
export const WS_TICKET_TTL_SECONDS = 30
const TICKET_BYTES = 32
const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/

/** The store keeps only a hash of the ticket, so a dump of Redis holds no usable ticket. */
const keyOf = (ticket: string): string => wsTicketKey(createHash('sha256').update(ticket).digest('hex'))

/** Whom a ticket was issued to, and when the access token it was issued with expires (ms). */
export interface WsTicketHolder extends AccessTokenPayload {
  expiresAt?: number
}

export interface IssuedWsTicket {
  ticket: string
  expiresIn: number
  expiresAt: Date
}

/** Stores a fresh single-use ticket for the caller, valid WS_TICKET_TTL_SECONDS. */
export async function issueWsTicket (store: Store, caller: WsTicketHolder): Promise<IssuedWsTicket> {
  const ticket = randomBytes(TICKET_BYTES).toString('base64url')
  // The socket a ticket opens lives no longer than the token the ticket was bought with.
  const value: WsTicketHolder = { id: caller.id, username: caller.username, email: caller.email, sessionId: caller.sessionId, expiresAt: caller.expiresAt }
  await store.tickets.put(keyOf(ticket), JSON.stringify(value), WS_TICKET_TTL_SECONDS * 1000)
  return { ticket, expiresIn: WS_TICKET_TTL_SECONDS, expiresAt: new Date(Date.now() + WS_TICKET_TTL_SECONDS * 1000) }
}

function payloadOf (stored: string): WsTicketHolder | null {
  let value: unknown
  try { value = JSON.parse(stored) } catch { return null }
  if (typeof value !== 'object' || value === null) return null
  const { id, username, email, sessionId, expiresAt } = value as Record<string, unknown>
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) return null
  if (typeof username !== 'string' || typeof email !== 'string' || typeof sessionId !== 'string') return null
  return typeof expiresAt === 'number' ? { id, username, email, sessionId, expiresAt } : { id, username, email, sessionId }
}

/**
 * Redeems a WebSocket ticket: the caller it was issued to, or null when the ticket is unknown,
 * expired or already used. Taking it removes it in the same step, so it is single use even when
 * two connections race with it.
 *
 * @example
 * const caller = await consumeWsTicket(fastify.store, query.ticket)
 * if (caller === null) socket.close(4001, 'Invalid or expired ticket')
 */
export async function consumeWsTicket (store: Store, ticket: string): Promise<WsTicketHolder | null> {
  if (!TICKET_FORMAT.test(ticket)) return null
  const stored = await store.tickets.take(keyOf(ticket))
  return stored === null ? null : payloadOf(stored)
}

/** A single-use ticket for opening the WebSocket without a JWT in the URL (POST /auth/ws-ticket). */
export async function createWsTicket (deps: Pick<AuthDeps, 'store'>, caller: WsTicketHolder): Promise<WsTicket> {
  const issued = await issueWsTicket(deps.store, caller)
  return { ticket: issued.ticket, expiresIn: issued.expiresIn, expiresAt: issued.expiresAt.toISOString() }
}
