import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ExternalIdentityProvider } from '../config.ts'
import { createExternalTokens, createExternalUsers } from '../modules/auth/external-identity.ts'
import { createAuthRepository } from '../modules/auth/repository.ts'
import { createSessionCheck, forgetSession, sessionEndedRecently } from '../modules/auth/session-check.ts'
import { ACCESS_TOKEN_ALGORITHM, bearerTokenOf, createTokenVerification, resumeSession, verifyAccessToken } from '../modules/auth/token-verification.ts'

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

export { ACCESS_TOKEN_ALGORITHM } from '../modules/auth/token-verification.ts'
export { ENDED_SESSION_MEMORY_MS, SESSION_CACHE_MS } from '../modules/auth/session-check.ts'
export { EXTERNAL_CLOCK_SKEW_MS } from '../modules/auth/external-identity.ts'

const VERIFIED_TOKEN_CACHE_SIZE = 10_000

export interface AuthPluginOptions {
  secret: string
  accessTtlSeconds: number
  external: ExternalIdentityProvider | null
}

/*
 * Registration only: @fastify/jwt for the service's own tokens, and the decorators every
 * transport uses. Verifying a token is modules/auth/token-verification.ts; whether a session is
 * live, session-check.ts; external providers' tokens and users, external-identity.ts.
 */
export default fp<AuthPluginOptions>(async function authPlugin (fastify, opts) {
  await fastify.register(jwt, {
    secret: opts.secret,
    sign: { algorithm: ACCESS_TOKEN_ALGORITHM, expiresIn: opts.accessTtlSeconds },
    // Verified tokens are cached (by a hash of the token, until their exp at the latest): a
    // client sends the same token on every request for its whole lifetime.
    verify: { algorithms: [ACCESS_TOKEN_ALGORITHM], requiredClaims: ['exp', 'iat'], cache: VERIFIED_TOKEN_CACHE_SIZE }
  })

  const repo = createAuthRepository(fastify.db)
  const sessions = createSessionCheck(repo)
  const verification = createTokenVerification(
    (token) => fastify.jwt.verify(token),
    sessions,
    createExternalTokens(opts.external),
    createExternalUsers(repo)
  )

  // Not async wrappers: each returns the verifying function's own promise.
  fastify.decorate('verifyAccessToken', (token: string) => verifyAccessToken(verification, token))
  fastify.decorate('resumeSession', (claims: AccessTokenPayload, expiresAt: number) => resumeSession(verification, claims, expiresAt))
  fastify.decorate('signAccessToken', (payload: AccessTokenPayload) => fastify.jwt.sign(payload))
  fastify.decorate('forgetSession', (sessionId: string) => { forgetSession(sessions, sessionId) })
  fastify.decorate('sessionEndedRecently', (sessionId: string) => sessionEndedRecently(sessions, sessionId))
  fastify.decorate('authenticate', async (request: FastifyRequest) => {
    request.user = await verifyAccessToken(verification, bearerTokenOf(request.headers.authorization))
  })
}, { name: 'auth', dependencies: ['db'] })
