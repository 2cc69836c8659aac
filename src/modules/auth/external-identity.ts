import { createPublicKey } from 'node:crypto'
import { createVerifier, type Algorithm } from 'fast-jwt'
import type { LRUCache } from 'lru-cache'
import type { ExternalIdentityProvider } from '../../config.ts'
import { ttlCache } from '../../lib/ttl-cache.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { expiresAtOf, unauthorized, userIdOf } from './claims.ts'
import type { AuthRepository } from './repository.ts'

/*
 * Tokens of an external identity provider (JWT_PUBLIC_KEY): verified with the provider's key,
 * issuer, audience and an age cap. External users are local users: the token's `id` names a
 * users row, and the name and email the service uses are that row's, never the token's (a
 * provider cannot rename anyone). They have no session here.
 */

/** How far in the future an external token's `iat` may lie (the provider's clock may run ahead). */
export const EXTERNAL_CLOCK_SKEW_MS = 60_000
/** An external user's name and email (read from their users row) are reused this long. */
const EXTERNAL_USER_CACHE_MS = 60_000
const EXTERNAL_USER_CACHE_MAX = 10_000

/** The provider's token verifier (signature, iss, aud, exp, maxAge) and its age cap. */
export interface ExternalTokens {
  verify: (token: string) => unknown
  maxAgeSeconds: number
}

/** External users' identities as their users rows name them, cached. */
export interface ExternalUsers {
  repo: AuthRepository
  cache: LRUCache<number, { username: string, email: string }>
}

/** The algorithm a public key can verify, pinned so a token cannot choose it. */
function algorithmOf (publicKey: string): Algorithm {
  const key = createPublicKey(publicKey)
  switch (key.asymmetricKeyType) {
    case 'rsa': return 'RS256'
    case 'rsa-pss': return 'PS256'
    case 'ed25519': return 'EdDSA'
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return 'ES256'
      if (curve === 'secp384r1') return 'ES384'
      if (curve === 'secp521r1') return 'ES512'
      throw new Error(`JWT_PUBLIC_KEY uses an unsupported curve: ${curve ?? 'unknown'}`)
    }
    default: throw new Error(`JWT_PUBLIC_KEY has an unsupported key type: ${key.asymmetricKeyType ?? 'unknown'}`)
  }
}

/** The provider's verifier, or null when no provider is configured; throws on an unusable key. */
export function createExternalTokens (provider: ExternalIdentityProvider | null): ExternalTokens | null {
  if (provider === null) return null
  // fast-jwt skips allowedIss/allowedAud for a token without the claim: they are required too.
  const verify = createVerifier({
    key: provider.publicKey,
    algorithms: [algorithmOf(provider.publicKey)],
    requiredClaims: ['exp', 'iat', 'iss', 'aud'],
    allowedIss: provider.issuer,
    allowedAud: provider.audience,
    maxAge: provider.maxAgeSeconds * 1000
  })
  return { verify, maxAgeSeconds: provider.maxAgeSeconds }
}

export function createExternalUsers (repo: AuthRepository): ExternalUsers {
  return { repo, cache: ttlCache<number, { username: string, email: string }>({ max: EXTERNAL_USER_CACHE_MAX, ttlMs: EXTERNAL_USER_CACHE_MS }) }
}

/**
 * The age cap of external tokens, beyond the verifier's `maxAge` (which checks only that iat is
 * recent): iat may not lie in the future, and the token may not be valid for longer than the
 * cap, so a provider's long-lived token is refused instead of trusted until its exp.
 */
function checkExternalAge (payload: unknown, maxAgeSeconds: number): void {
  const { iat, exp } = payload as { iat?: unknown, exp?: unknown }
  if (typeof iat !== 'number' || typeof exp !== 'number') throw unauthorized()
  if (iat * 1000 > Date.now() + EXTERNAL_CLOCK_SKEW_MS) throw unauthorized()
  if (exp - iat > maxAgeSeconds) throw unauthorized('Token lifetime exceeds JWT_EXTERNAL_MAX_AGE_SECONDS')
}

/** The external user with this id, named as their users row names them; unknown ids are refused. */
export async function externalUser (users: ExternalUsers, userId: number): Promise<AuthUser> {
  let identity = users.cache.get(userId)
  if (identity === undefined) {
    identity = await users.repo.identity(userId) ?? undefined
    if (identity === undefined) throw unauthorized('Unknown user')
    users.cache.set(userId, identity)
  }
  return { id: userId, username: identity.username, email: identity.email, sessionId: 'external', external: true }
}

/** The caller behind a token of the provider, or UNAUTHORIZED. */
export async function verifyExternalToken (tokens: ExternalTokens, users: ExternalUsers, token: string): Promise<AuthUser> {
  let payload: unknown
  try { payload = tokens.verify(token) } catch { throw unauthorized() }
  checkExternalAge(payload, tokens.maxAgeSeconds)
  return { ...await externalUser(users, userIdOf(payload)), expiresAt: expiresAtOf(payload) }
}
