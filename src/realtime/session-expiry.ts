import type { AuthUser } from '../plugins/auth.ts'
import { AppError } from '../lib/app-error.ts'
import { WS_CLOSE_CODES } from '../../schemas/ws.ts'
import type { Connection } from './connection.ts'
import type { GatewayPorts } from './ports.ts'

/* A socket lives no longer than its session and its access token (4001 when either ends). */

export function closeSessionEnded (conn: Connection): void {
  conn.close(WS_CLOSE_CODES.authFailed, 'Session ended')
}

/** Closes the connection with 4001 when its credentials expire, unless re-authenticated in place first. */
export function scheduleExpiry (conn: Connection, user: AuthUser): void {
  if (conn.expiryTimer !== null) clearTimeout(conn.expiryTimer)
  conn.expiryTimer = null
  if (user.expiresAt === undefined) return
  // setTimeout holds at most ~24.8 days; a token that outlives it is checked again then.
  const delay = Math.min(Math.max(0, user.expiresAt - Date.now()), 2 ** 31 - 1)
  conn.expiryTimer = setTimeout(() => {
    conn.expiryTimer = null
    if (conn.reauthenticating) return
    if (user.expiresAt !== undefined && user.expiresAt <= Date.now()) closeIfExpired(conn)
    else scheduleExpiry(conn, user)
  }, delay)
  conn.expiryTimer.unref()
}

/** `auth` on an authenticated connection: a fresh token of the same user moves its expiry. */
export async function reauthenticate (ports: Pick<GatewayPorts, 'verifyAccessToken' | 'sessionEndedRecently'>, conn: Connection, token: string): Promise<Record<string, unknown>> {
  conn.reauthenticating = true
  try {
    const user = await ports.verifyAccessToken(token)
    if (user.id !== conn.user?.id) throw new AppError('FORBIDDEN', 'A connection stays with the user it was opened for')
    conn.user = user
    if (!user.external && ports.sessionEndedRecently(user.sessionId)) closeSessionEnded(conn)
    scheduleExpiry(conn, user)
    return user.expiresAt === undefined ? { userId: user.id } : { userId: user.id, expiresAt: new Date(user.expiresAt).toISOString() }
  } finally {
    conn.reauthenticating = false
    // A failed re-auth leaves the old token: if it ran out meanwhile, the connection ends now.
    closeIfExpired(conn)
  }
}

export function closeIfExpired (conn: Connection): void {
  const expiresAt = conn.user?.expiresAt
  if (expiresAt !== undefined && expiresAt <= Date.now()) conn.close(WS_CLOSE_CODES.authFailed, 'Access token expired')
}
