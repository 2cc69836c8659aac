import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { createPublicKey } from 'node:crypto'
import { createDecoder, createVerifier, type Algorithm } from 'fast-jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../lib/app-error.ts'
import { toBin } from '../lib/ids.ts'

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
    resumeSession: (claims: AccessTokenPayload) => Promise<AuthUser>
    /** Drops a revoked session from this instance's cache at once. */
    forgetSession: (sessionId: string) => void
  }
}

export const ACCESS_TOKEN_ALGORITHM = 'HS256'
/**
 * A session seen active is trusted this long without asking the database again. A logout
 * clears it here at once; other instances see it within this window.
 */
export const SESSION_CACHE_MS = 1000
const SESSION_CACHE_MAX = 10_000
const VERIFIED_TOKEN_CACHE_SIZE = 10_000
/** The header segment of the tokens this service signs: they skip the header decode that picks a verifier. */
const OWN_TOKEN_HEADER = Buffer.from(JSON.stringify({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT' })).toString('base64url') + '.'

export interface AuthPluginOptions {
  secret: string
  accessTtlSeconds: number
  external: { publicKey: string, issuer: string | undefined, audience: string | undefined } | null
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

function claimsOf (payload: unknown, requireSession: boolean): AccessTokenPayload {
  const p = payload as Partial<Record<keyof AccessTokenPayload, unknown>>
  const id = p.id
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw unauthorized()
  if (typeof p.username !== 'string' || typeof p.email !== 'string') throw unauthorized()
  if (requireSession && typeof p.sessionId !== 'string') throw unauthorized()
  return { id, username: p.username, email: p.email, sessionId: typeof p.sessionId === 'string' ? p.sessionId : 'external' }
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
  const external = opts.external === null
    ? null
    : createVerifier({
      key: opts.external.publicKey,
      algorithms: [algorithmOf(opts.external.publicKey)],
      requiredClaims: ['exp'],
      ...(opts.external.issuer !== undefined ? { allowedIss: opts.external.issuer } : {}),
      ...(opts.external.audience !== undefined ? { allowedAud: opts.external.audience } : {})
    })

  const activeSessions = new Map<string, number>()
  async function sessionIsActive (sessionId: string, userId: number): Promise<boolean> {
    const seenAt = activeSessions.get(sessionId)
    if (seenAt !== undefined && Date.now() - seenAt < SESSION_CACHE_MS) return true
    let id: Buffer
    try { id = toBin(sessionId) } catch { return false }
    const row = await fastify.db.selectFrom('auth_sessions').select('user_id')
      .where('id', '=', id).where('revoked_at', 'is', null).where('expires_at', '>', new Date())
      .executeTakeFirst()
    if (row === undefined || row.user_id !== userId) return false
    if (activeSessions.size >= SESSION_CACHE_MAX) activeSessions.clear()
    activeSessions.set(sessionId, Date.now())
    return true
  }

  const knownExternalUsers = new Map<number, number>()
  async function externalUserExists (userId: number): Promise<boolean> {
    const seenAt = knownExternalUsers.get(userId)
    if (seenAt !== undefined && Date.now() - seenAt < 60_000) return true
    const row = await fastify.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
    if (row === undefined) return false
    if (knownExternalUsers.size >= SESSION_CACHE_MAX) knownExternalUsers.clear()
    knownExternalUsers.set(userId, Date.now())
    return true
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
      const claims = claimsOf(payload, true)
      if (!await sessionIsActive(claims.sessionId, claims.id)) throw unauthorized('Session has ended')
      return { ...claims, external: false }
    }
    if (external === null) throw unauthorized()
    let payload: unknown
    try { payload = external(token) } catch { throw unauthorized() }
    const claims = claimsOf(payload, false)
    if (!await externalUserExists(claims.id)) throw unauthorized('Unknown user')
    return { ...claims, external: true }
  }

  fastify.decorate('verifyAccessToken', verifyAccessToken)
  fastify.decorate('resumeSession', async (claims: AccessTokenPayload): Promise<AuthUser> => {
    if (claims.sessionId === 'external') {
      if (!await externalUserExists(claims.id)) throw unauthorized('Unknown user')
      return { ...claims, external: true }
    }
    if (!await sessionIsActive(claims.sessionId, claims.id)) throw unauthorized('Session has ended')
    return { ...claims, external: false }
  })
  fastify.decorate('signAccessToken', (payload: AccessTokenPayload) => fastify.jwt.sign(payload))
  fastify.decorate('forgetSession', (sessionId: string) => { activeSessions.delete(sessionId) })
  fastify.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) throw unauthorized('Missing bearer token')
    request.user = await verifyAccessToken(header.slice(7).trim())
  })
}, { name: 'auth', dependencies: ['db'] })
