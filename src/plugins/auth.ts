import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { createPublicKey } from 'node:crypto'
import { createDecoder, createVerifier, type Algorithm } from 'fast-jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ExternalIdentityProvider } from '../config.ts'
import { AppError } from '../lib/app-error.ts'
import { toBin } from '../lib/ids.ts'
import { tickBatch } from '../lib/tick-batch.ts'
import { ttlCache } from '../lib/ttl-cache.ts'
import { createAuthRepository } from '../modules/auth/repository.ts'

/** The access token payload, exactly seed 01 §2.1. */
export interface AccessTokenPayload {
  id: number
  username: string
  email: string
  sessionId: string
}

/** Who is calling: the verified token's claims. */
export interface AuthUser extends AccessTokenPayload {
  /** True for tokens from an external identity provider (no session in our store). */
  external: boolean
  /**
   * When the credentials expire (ms since the epoch): a WebSocket opened with them closes then.
   * Every verified token and ticket sets it; callers built in-process (scripts, tests) may not.
   */
  expiresAt?: number
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenPayload
    user: AuthUser
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for protected routes: verifies the bearer token and sets request.user. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** Verifies an access token from any transport (HTTP header, WS query or frame). */
    verifyAccessToken: (token: string) => Promise<AuthUser>
    signAccessToken: (payload: AccessTokenPayload) => string
    /**
     * The caller behind claims that were verified elsewhere (a WebSocket ticket): their session
     * must still be live, as for a token. Tickets of external-IdP users carry sessionId
     * 'external' and need only the user to exist.
     */
    resumeSession: (claims: AccessTokenPayload, expiresAt: number) => Promise<AuthUser>
    /**
     * Drops an ended session from this instance's cache at once and remembers for a while that
     * it ended, so a check that read the database just before the revocation cannot cache it again.
     */
    forgetSession: (sessionId: string) => void
    /** True when this instance learned in the last few seconds that the session ended. */
    sessionEndedRecently: (sessionId: string) => boolean
  }
}

export const ACCESS_TOKEN_ALGORITHM = 'HS256'
/**
 * A session seen active is trusted this long without asking the database again. An ended
 * session (logout, refresh reuse, password change) is dropped from every instance's cache at
 * once by a bus notice; this window bounds staleness only while Redis is unreachable.
 */
export const SESSION_CACHE_MS = 1000
/** How long an instance remembers a session it was told ended: longer than any check in flight. */
export const ENDED_SESSION_MEMORY_MS = 30_000
const SESSION_CACHE_MAX = 10_000
/** An external user's name and email (read from their users row) are reused this long. */
const EXTERNAL_USER_CACHE_MS = 60_000
const VERIFIED_TOKEN_CACHE_SIZE = 10_000
/** The header segment of the tokens this service signs: they skip the header decode that picks a verifier. */
const OWN_TOKEN_HEADER = Buffer.from(JSON.stringify({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT' })).toString('base64url') + '.'

/** How far in the future an external token's `iat` may lie (the provider's clock may run ahead). */
export const EXTERNAL_CLOCK_SKEW_MS = 60_000

export interface AuthPluginOptions {
  secret: string
  accessTtlSeconds: number
  external: ExternalIdentityProvider | null
}

const unauthorized = (message = 'Invalid or expired token'): AppError => new AppError('UNAUTHORIZED', message)

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

/** `exp` of a verified token in ms; the verifiers require it. */
function expiresAtOf (payload: unknown): number {
  const exp = (payload as { exp?: unknown }).exp
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw unauthorized()
  return exp * 1000
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

function userIdOf (payload: unknown): number {
  const id = (payload as { id?: unknown }).id
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw unauthorized()
  return id
}

/** The claims of one of the service's own tokens (seed 01 §2.1). */
function claimsOf (payload: unknown): AccessTokenPayload {
  const p = payload as Partial<Record<keyof AccessTokenPayload, unknown>>
  const id = userIdOf(payload)
  if (typeof p.username !== 'string' || typeof p.email !== 'string' || typeof p.sessionId !== 'string') throw unauthorized()
  return { id, username: p.username, email: p.email, sessionId: p.sessionId }
}

export default fp<AuthPluginOptions>(async function authPlugin (fastify, opts) {
  await fastify.register(jwt, {
    secret: opts.secret,
    sign: { algorithm: ACCESS_TOKEN_ALGORITHM, expiresIn: opts.accessTtlSeconds },
    // Verified tokens are cached (by a hash of the token, until their exp at the latest): a
    // client sends the same token on every request for its whole lifetime.
    verify: { algorithms: [ACCESS_TOKEN_ALGORITHM], requiredClaims: ['exp', 'iat'], cache: VERIFIED_TOKEN_CACHE_SIZE }
  })

  const decodeHeader = createDecoder({ complete: true })
  const provider = opts.external
  // fast-jwt skips allowedIss/allowedAud for a token without the claim: they are required too.
  const external = provider === null
    ? null
    : createVerifier({
      key: provider.publicKey,
      algorithms: [algorithmOf(provider.publicKey)],
      requiredClaims: ['exp', 'iat', 'iss', 'aud'],
      allowedIss: provider.issuer,
      allowedAud: provider.audience,
      maxAge: provider.maxAgeSeconds * 1000
    })

  const repo = createAuthRepository(fastify.db)
  const activeSessions = ttlCache<string, true>({ max: SESSION_CACHE_MAX, ttlMs: SESSION_CACHE_MS })
  // The least recently ended goes first when full.
  const endedSessions = ttlCache<string, true>({ max: SESSION_CACHE_MAX, ttlMs: ENDED_SESSION_MEMORY_MS })
  const endedRecently = (sessionId: string): boolean => endedSessions.has(sessionId)
  // Sessions looked up in the same turn (WebSocket connects arriving together) share one query.
  const activeSessionUserId = tickBatch(async (hexIds: string[]) => await repo.activeSessionUserIds(hexIds.map((hex) => Buffer.from(hex, 'hex')), new Date()), null)
  async function sessionIsActive (sessionId: string, userId: number): Promise<boolean> {
    if (endedRecently(sessionId)) return false
    if (activeSessions.has(sessionId)) return true
    let id: Buffer
    try { id = toBin(sessionId) } catch { return false }
    const sessionUserId = await activeSessionUserId(id.toString('hex'))
    // The session may have ended while the row was read: then it is not cached again.
    if (sessionUserId !== userId || endedRecently(sessionId)) return false
    activeSessions.set(sessionId, true)
    return true
  }

  /**
   * External users are local users: the token's `id` names a users row, and the name and email
   * the service uses are that row's, never the token's (a provider cannot rename anyone).
   */
  const externalUsers = ttlCache<number, { username: string, email: string }>({ max: SESSION_CACHE_MAX, ttlMs: EXTERNAL_USER_CACHE_MS })
  async function externalUser (userId: number): Promise<AuthUser> {
    let identity = externalUsers.get(userId)
    if (identity === undefined) {
      identity = await repo.identity(userId) ?? undefined
      if (identity === undefined) throw unauthorized('Unknown user')
      externalUsers.set(userId, identity)
    }
    return { id: userId, username: identity.username, email: identity.email, sessionId: 'external', external: true }
  }

  async function verifyAccessToken (token: string): Promise<AuthUser> {
    let alg: unknown = ACCESS_TOKEN_ALGORITHM
    if (!token.startsWith(OWN_TOKEN_HEADER)) {
      try {
        alg = (decodeHeader(token) as { header: { alg?: unknown } }).header.alg
      } catch {
        throw unauthorized()
      }
    }
    if (alg === ACCESS_TOKEN_ALGORITHM) {
      let payload: unknown
      try { payload = fastify.jwt.verify(token) } catch { throw unauthorized() }
      const claims = claimsOf(payload)
      if (!await sessionIsActive(claims.sessionId, claims.id)) throw unauthorized('Session has ended')
      return { ...claims, external: false, expiresAt: expiresAtOf(payload) }
    }
    if (external === null || provider === null) throw unauthorized()
    let payload: unknown
    try { payload = external(token) } catch { throw unauthorized() }
    checkExternalAge(payload, provider.maxAgeSeconds)
    return { ...await externalUser(userIdOf(payload)), expiresAt: expiresAtOf(payload) }
  }

  fastify.decorate('verifyAccessToken', verifyAccessToken)
  fastify.decorate('resumeSession', async (claims: AccessTokenPayload, expiresAt: number): Promise<AuthUser> => {
    if (expiresAt <= Date.now()) throw unauthorized()
    if (claims.sessionId === 'external') return { ...await externalUser(claims.id), expiresAt }
    if (!await sessionIsActive(claims.sessionId, claims.id)) throw unauthorized('Session has ended')
    return { ...claims, external: false, expiresAt }
  })
  fastify.decorate('signAccessToken', (payload: AccessTokenPayload) => fastify.jwt.sign(payload))
  fastify.decorate('forgetSession', (sessionId: string) => {
    activeSessions.delete(sessionId)
    endedSessions.set(sessionId, true)
  })
  fastify.decorate('sessionEndedRecently', endedRecently)
  fastify.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) throw unauthorized('Missing bearer token')
    request.user = await verifyAccessToken(header.slice(7).trim())
  })
}, { name: 'auth', dependencies: ['db'] })
