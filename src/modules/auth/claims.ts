import { AppError } from '../../lib/app-error.ts'
import type { AccessTokenPayload } from '../../plugins/auth.ts'

/*
 * Reading the claims of a token whose signature was verified already: a claim of the wrong
 * type refuses the token as an invalid one would be refused.
 */

export const unauthorized = (message = 'Invalid or expired token'): AppError => new AppError('UNAUTHORIZED', message)

/** `exp` of a verified token in ms; the verifiers require it. */
export function expiresAtOf (payload: unknown): number {
  const exp = (payload as { exp?: unknown }).exp
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw unauthorized()
  return exp * 1000
}

export function userIdOf (payload: unknown): number {
  const id = (payload as { id?: unknown }).id
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw unauthorized()
  return id
}

/** The claims of one of the service's own tokens (seed 01 §2.1). */
export function claimsOf (payload: unknown): AccessTokenPayload {
  const p = payload as Partial<Record<keyof AccessTokenPayload, unknown>>
  const id = userIdOf(payload)
  if (typeof p.username !== 'string' || typeof p.email !== 'string' || typeof p.sessionId !== 'string') throw unauthorized()
  return { id, username: p.username, email: p.email, sessionId: p.sessionId }
}
