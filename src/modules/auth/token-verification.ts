import { createDecoder } from 'fast-jwt'
import type { AccessTokenPayload, AuthUser } from '../../plugins/auth.ts'
import { claimsOf, expiresAtOf, unauthorized } from './claims.ts'
import { externalUser, verifyExternalToken, type ExternalTokens, type ExternalUsers } from './external-identity.ts'
import { sessionIsActive, type SessionCheck } from './session-check.ts'

/*
 * Who is calling, from any transport (HTTP header, WebSocket URL, `auth` frame, ticket): the
 * service's own tokens need a live session (session-check.ts); an external provider's need a
 * users row (external-identity.ts).
 */

export const ACCESS_TOKEN_ALGORITHM = 'HS256'
/** The header segment of the tokens this service signs: they skip the header decode that picks a verifier. */
const OWN_TOKEN_HEADER = Buffer.from(JSON.stringify({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT' })).toString('base64url') + '.'

/** What verifying a token takes, built once by the auth plugin. */
export interface TokenVerification {
  /** Verifies one of the service's own tokens (@fastify/jwt, with its verified-token cache); throws when invalid. */
  verifyOwn: (token: string) => unknown
  /** Reads a token's header unverified, to pick the verifier. */
  decodeHeader: (token: string) => unknown
  sessions: SessionCheck
  /** Null when no external identity provider is configured. */
  external: ExternalTokens | null
  externalUsers: ExternalUsers
}

export function createTokenVerification (verifyOwn: (token: string) => unknown, sessions: SessionCheck, external: ExternalTokens | null, externalUsers: ExternalUsers): TokenVerification {
  return { verifyOwn, decodeHeader: createDecoder({ complete: true }), sessions, external, externalUsers }
}

/** The signing algorithm a token's header names; UNAUTHORIZED when the header is unreadable. */
function algorithmOfToken (verification: TokenVerification, token: string): unknown {
  if (token.startsWith(OWN_TOKEN_HEADER)) return ACCESS_TOKEN_ALGORITHM
  try {
    return (verification.decodeHeader(token) as { header: { alg?: unknown } }).header.alg
  } catch {
    throw unauthorized()
  }
}

/** The caller behind an access token, or UNAUTHORIZED ('Session has ended' when its session did). */
export async function verifyAccessToken (verification: TokenVerification, token: string): Promise<AuthUser> {
  if (algorithmOfToken(verification, token) === ACCESS_TOKEN_ALGORITHM) {
    let payload: unknown
    try { payload = verification.verifyOwn(token) } catch { throw unauthorized() }
    const claims = claimsOf(payload)
    if (!await sessionIsActive(verification.sessions, claims.sessionId, claims.id)) throw unauthorized('Session has ended')
    return { ...claims, external: false, expiresAt: expiresAtOf(payload) }
  }
  if (verification.external === null) throw unauthorized()
  return await verifyExternalToken(verification.external, verification.externalUsers, token)
}

/**
 * The caller behind claims that were verified elsewhere (a WebSocket ticket): their session
 * must still be live, as for a token. Tickets of external-IdP users carry sessionId 'external'
 * and need only the user to exist.
 */
export async function resumeSession (verification: TokenVerification, claims: AccessTokenPayload, expiresAt: number): Promise<AuthUser> {
  if (expiresAt <= Date.now()) throw unauthorized()
  if (claims.sessionId === 'external') return { ...await externalUser(verification.externalUsers, claims.id), expiresAt }
  if (!await sessionIsActive(verification.sessions, claims.sessionId, claims.id)) throw unauthorized('Session has ended')
  return { ...claims, external: false, expiresAt }
}

/** The token of an `Authorization: Bearer …` header; UNAUTHORIZED when there is none. */
export function bearerTokenOf (header: string | undefined): string {
  if (header === undefined || !header.startsWith('Bearer ')) throw unauthorized('Missing bearer token')
  return header.slice(7).trim()
}
