import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/*
 * Refresh tokens are `base64url(sessionId ‖ 32 random bytes) . base64url(HMAC)`. The database
 * keeps only a SHA-256 of the whole token. The HMAC lets us tell a token we issued for a
 * session (a replayed, already-rotated one: revoke) from a forged one (just refuse), so knowing
 * a session id is not enough to end someone's session.
 */
const REFRESH_BODY_BYTES = 16 + 32

export interface ParsedRefreshToken { sessionId: Buffer }

/** The HMAC key of refresh tokens, derived from the JWT secret. */
export function refreshKeyOf (secret: string): Buffer {
  return createHmac('sha256', secret).update('parley refresh token v1').digest()
}

/** What the database stores of a refresh token. */
export const refreshHashOf = (token: string): Buffer => createHash('sha256').update(token).digest()

function refreshMac (key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest()
}

export function newRefreshToken (key: Buffer, sessionId: Buffer): string {
  const body = Buffer.concat([sessionId, randomBytes(32)]).toString('base64url')
  return `${body}.${refreshMac(key, body).toString('base64url')}`
}

/** The session of a refresh token we issued (its MAC checked), else null. */
export function parseRefreshToken (key: Buffer, token: string): ParsedRefreshToken | null {
  const [body, mac, extra] = token.split('.')
  if (body === undefined || mac === undefined || extra !== undefined) return null
  const given = Buffer.from(mac, 'base64url')
  const expected = refreshMac(key, body)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
  const raw = Buffer.from(body, 'base64url')
  if (raw.length !== REFRESH_BODY_BYTES) return null
  return { sessionId: raw.subarray(0, 16) }
}
