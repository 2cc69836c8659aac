import type { AuthTokens, LogoutResult } from '../../../schemas/auth.ts'
import { newId, toBin } from '../../lib/ids.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { toPublicUser } from '../users/service.ts'
import type { AuthDeps } from './deps.ts'
import { newRefreshToken, refreshHashOf } from './refresh-token.ts'
import type { AuthUserRow } from './repository.ts'

/*
 * Sessions: one row per signed-in device, opened by register and login, rotated by refresh.ts,
 * ended by logout, a refresh token's reuse (refresh.ts) or a password change (password-change.ts).
 */

export function accessTokenFor (deps: AuthDeps, user: AuthUserRow, sessionId: string): string {
  return deps.signAccessToken({ id: user.id, username: user.username, email: user.email, sessionId })
}

/** Opens a session for the user: its first refresh token and an access token for it. */
export async function startSession (deps: AuthDeps, user: AuthUserRow, trx = deps.db): Promise<AuthTokens> {
  const sessionId = newId()
  const sessionBin = toBin(sessionId)
  const refreshToken = newRefreshToken(deps.refreshKey, sessionBin)
  await deps.repo.insertSession({
    id: sessionBin,
    userId: user.id,
    refreshHash: refreshHashOf(refreshToken),
    expiresAt: new Date(Date.now() + deps.config.refreshTtlSeconds * 1000)
  }, trx)
  return { token: accessTokenFor(deps, user, sessionId), refreshToken, user: toPublicUser(user) }
}

/**
 * Sessions that just ended (revoked in the database): every instance forgets them and
 * closes their sockets with 4001, through one bus notice.
 */
export function sessionsEnded (deps: AuthDeps, userId: number, sessionIds: string[]): void {
  if (sessionIds.length > 0) deps.bus.notify({ type: 'sessions_ended', userId, sessionIds })
}

/** Ends the caller's session; its access tokens stop working. */
export async function logout (deps: AuthDeps, caller: AuthUser): Promise<LogoutResult> {
  // Tokens of an external identity provider have no session here: the provider ends them.
  if (!caller.external) {
    await deps.repo.revokeSession(toBin(caller.sessionId), 'logout', new Date())
    sessionsEnded(deps, caller.id, [caller.sessionId])
  }
  return { loggedOut: true }
}
