import type { AuthTokens } from '../../../schemas/auth.ts'
import { AppError } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import { toPublicUser } from '../users/service.ts'
import type { AuthDeps } from './deps.ts'
import { newRefreshToken, parseRefreshToken, refreshHashOf } from './refresh-token.ts'
import { accessTokenFor, sessionsEnded } from './sessions.ts'

/** Refreshes per session per minute, before RATE_LIMIT_SCALE: a client needs one per access token lifetime. */
export const REFRESH_LIMIT_PER_SESSION = 10

const invalidRefresh = (): AppError => new AppError('UNAUTHORIZED', 'Invalid or expired refresh token')

/** The session a refresh token we issued belongs to (its MAC checked), else null: refreshes are limited per session. */
export function refreshSessionOf (deps: AuthDeps, refreshToken: unknown): string | null {
  if (typeof refreshToken !== 'string') return null
  const parsed = parseRefreshToken(deps.refreshKey, refreshToken)
  return parsed === null ? null : fromBin(parsed.sessionId)
}

/** Trades a refresh token for new tokens; a replayed refresh token ends its session. */
export async function refresh (deps: AuthDeps, refreshToken: string): Promise<AuthTokens> {
  const parsed = parseRefreshToken(deps.refreshKey, refreshToken)
  if (parsed === null) throw invalidRefresh()
  const { sessionId } = parsed
  const now = new Date()
  const next = newRefreshToken(deps.refreshKey, sessionId)
  const expiresAt = new Date(now.getTime() + deps.config.refreshTtlSeconds * 1000)
  const rotated = await deps.repo.rotateRefreshHash(sessionId, refreshHashOf(refreshToken), refreshHashOf(next), now, expiresAt)
  const session = await deps.repo.findSession(sessionId)
  if (!rotated) {
    if (session !== null && session.revokedAt === null && session.expiresAt > now) {
      // A token we signed for this live session, but not its current one: it was rotated
      // already, so two parties hold the session. End it for both.
      await deps.repo.revokeSession(sessionId, 'refresh_reuse', now)
      sessionsEnded(deps, session.userId, [fromBin(sessionId)])
      deps.log.warn({ sessionId: fromBin(sessionId), userId: session.userId }, 'refresh token reused: session revoked')
      throw new AppError('UNAUTHORIZED', 'Refresh token already used: the session has been revoked')
    }
    throw invalidRefresh()
  }
  const user = session === null ? null : await deps.repo.findUserById(session.userId)
  if (user === null) throw invalidRefresh()
  return { token: accessTokenFor(deps, user, fromBin(sessionId)), refreshToken: next, user: toPublicUser(user) }
}
