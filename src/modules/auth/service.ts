import fp from 'fastify-plugin'
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { AuthTokens, ChangePasswordRequest, CurrentUser, LoginRequest, LogoutResult, PasswordChanged, RegisterRequest, WsTicket } from '../../../schemas/auth.ts'
import { AppError, invalid, notFound } from '../../lib/app-error.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { addressKey } from '../../lib/client-address.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { toPublicUser } from '../users/service.ts'
import { createDummyHash, hashPassword, verifyPassword } from './passwords.ts'
import { createLoginThrottle } from './login-throttle.ts'
import { createAuthRepository, type AuthUserRow } from './repository.ts'
import { duplicateKeyOf } from '../../../db/errors.ts'
import { issueWsTicket } from './tickets.ts'

/** Refreshes per session per minute, before RATE_LIMIT_SCALE: a client needs one per access token lifetime. */
export const REFRESH_LIMIT_PER_SESSION = 10

/** The one answer to a failed login, whether the account exists or not. */
const INVALID_CREDENTIALS = 'Invalid email, username or password'

export interface AuthService {
  /** Creates an account and signs it in. */
  register: (input: RegisterRequest) => Promise<AuthTokens>
  /** Signs in by email or username; failures are throttled per (account, address), per address, and slow the account down (login-throttle.ts). */
  login: (input: LoginRequest, client: { ip: string }) => Promise<AuthTokens>
  /** Trades a refresh token for new tokens; a replayed refresh token ends its session. */
  refresh: (refreshToken: string) => Promise<AuthTokens>
  /** The session a refresh token we issued belongs to (its MAC checked), else null: refreshes are limited per session. */
  refreshSessionOf: (refreshToken: unknown) => string | null
  /** Ends the caller's session; its access tokens stop working. */
  logout: (caller: AuthUser) => Promise<LogoutResult>
  /** Changes the caller's password and ends every other session of theirs. */
  changePassword: (caller: AuthUser, input: ChangePasswordRequest, client: { ip: string }) => Promise<PasswordChanged>
  currentUser: (caller: AuthUser) => Promise<CurrentUser>
  /** A single-use ticket for opening the WebSocket without a JWT in the URL. */
  createWsTicket: (caller: AuthUser) => Promise<WsTicket>
}

declare module 'fastify' {
  interface FastifyInstance {
    authService: AuthService
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

/** Which of the users table's unique keys a duplicate hit. */
const duplicateField = (key: string): 'email' | 'username' => key.includes('username') ? 'username' : 'email'

/*
 * Refresh tokens are `base64url(sessionId ‖ 32 random bytes) . base64url(HMAC)`. The database
 * keeps only a SHA-256 of the whole token. The HMAC lets us tell a token we issued for a
 * session (a replayed, already-rotated one: revoke) from a forged one (just refuse), so knowing
 * a session id is not enough to end someone's session.
 */
const REFRESH_BODY_BYTES = 16 + 32

interface ParsedRefreshToken { sessionId: Buffer }

function createAuthService (fastify: FastifyInstance, dummyHash: string): AuthService {
  const repo = createAuthRepository(fastify.db)
  const { refreshTtlSeconds, secret } = fastify.config.jwt
  const refreshKey = createHmac('sha256', secret).update('parley refresh token v1').digest()
  const throttle = createLoginThrottle(fastify.store.counters, fastify.config.rateLimitScale, fastify.log, fastify.clock)

  function refreshMac (body: string): Buffer {
    return createHmac('sha256', refreshKey).update(body).digest()
  }

  function newRefreshToken (sessionId: Buffer): string {
    const body = Buffer.concat([sessionId, randomBytes(32)]).toString('base64url')
    return `${body}.${refreshMac(body).toString('base64url')}`
  }

  function parseRefreshToken (token: string): ParsedRefreshToken | null {
    const [body, mac, extra] = token.split('.')
    if (body === undefined || mac === undefined || extra !== undefined) return null
    const given = Buffer.from(mac, 'base64url')
    const expected = refreshMac(body)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
    const raw = Buffer.from(body, 'base64url')
    if (raw.length !== REFRESH_BODY_BYTES) return null
    return { sessionId: raw.subarray(0, 16) }
  }

  /** Opens a session for the user: its first refresh token and an access token for it. */
  async function startSession (user: AuthUserRow, trx = fastify.db): Promise<AuthTokens> {
    const sessionId = newId()
    const sessionBin = toBin(sessionId)
    const refreshToken = newRefreshToken(sessionBin)
    await repo.insertSession({
      id: sessionBin,
      userId: user.id,
      refreshHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + refreshTtlSeconds * 1000)
    }, trx)
    return { token: accessTokenFor(user, sessionId), refreshToken, user: toPublicUser(user) }
  }

  /**
   * Sessions that just ended (revoked in the database): every instance forgets them and
   * closes their sockets with 4001, through one bus notice.
   */
  function sessionsEnded (userId: number, sessionIds: string[]): void {
    if (sessionIds.length > 0) fastify.bus.notify({ type: 'sessions_ended', userId, sessionIds })
  }

  function accessTokenFor (user: AuthUserRow, sessionId: string): string {
    return fastify.signAccessToken({ id: user.id, username: user.username, email: user.email, sessionId })
  }

  async function findLoginUser (input: LoginRequest): Promise<{ user: AuthUserRow | null, account: string }> {
    const { email, username } = input
    if ((email === undefined) === (username === undefined)) {
      throw invalid(email === undefined ? 'email' : 'username', 'Give exactly one of email or username')
    }
    const user = email !== undefined
      ? await repo.findUserByEmail(email.toLowerCase())
      : await repo.findUserByUsername(username ?? '')
    // A known account has one counter whichever identifier is used; an unknown one still
    // gets a counter, so lockouts look the same for both.
    const account = user !== null
      ? `user:${user.id}`
      : email !== undefined ? `email:${email.toLowerCase()}` : `username:${(username ?? '').toLowerCase()}`
    return { user, account }
  }

  return {
    async register (input) {
      const email = input.email.toLowerCase()
      const displayName = input.displayName?.trim() ?? null
      const passwordHash = await hashPassword(input.password)
      try {
        return await fastify.db.transaction().execute(async (trx) => {
          const account = { email, username: input.username, displayName, passwordHash }
          const id = await repo.insertUser(account, trx)
          return await startSession({ id, email, username: input.username, display_name: displayName, avatar_url: null, password_hash: passwordHash }, trx)
        })
      } catch (err) {
        const key = duplicateKeyOf(err)
        if (key === null) throw err
        const field = duplicateField(key)
        throw new AppError('CONFLICT', field === 'email' ? 'Email is already registered' : 'Username is already taken', { field })
      }
    },

    async login (input, client) {
      const address = addressKey(client.ip)
      const { user, account } = await findLoginUser(input)
      await throttle.check(account, address)
      // The same argon2 work whether or not the account exists or has a password.
      const matches = await verifyPassword(user?.password_hash ?? dummyHash, input.password)
      if (user === null || user.password_hash === null || !matches) {
        await throttle.recordFailure(account, address)
        throw new AppError('UNAUTHORIZED', INVALID_CREDENTIALS)
      }
      await throttle.recordSuccess(account, address)
      return await startSession(user)
    },

    refreshSessionOf (refreshToken) {
      if (typeof refreshToken !== 'string') return null
      const parsed = parseRefreshToken(refreshToken)
      return parsed === null ? null : fromBin(parsed.sessionId)
    },

    async refresh (refreshToken) {
      const parsed = parseRefreshToken(refreshToken)
      if (parsed === null) throw new AppError('UNAUTHORIZED', 'Invalid or expired refresh token')
      const { sessionId } = parsed
      const now = new Date()
      const next = newRefreshToken(sessionId)
      const expiresAt = new Date(now.getTime() + refreshTtlSeconds * 1000)
      const rotated = await repo.rotateRefreshHash(sessionId, sha256(refreshToken), sha256(next), now, expiresAt)
      const session = await repo.findSession(sessionId)
      if (!rotated) {
        if (session !== null && session.revokedAt === null && session.expiresAt > now) {
          // A token we signed for this live session, but not its current one: it was rotated
          // already, so two parties hold the session. End it for both.
          await repo.revokeSession(sessionId, 'refresh_reuse', now)
          sessionsEnded(session.userId, [fromBin(sessionId)])
          fastify.log.warn({ sessionId: fromBin(sessionId), userId: session.userId }, 'refresh token reused: session revoked')
          throw new AppError('UNAUTHORIZED', 'Refresh token already used: the session has been revoked')
        }
        throw new AppError('UNAUTHORIZED', 'Invalid or expired refresh token')
      }
      const user = session === null ? null : await repo.findUserById(session.userId)
      if (user === null) throw new AppError('UNAUTHORIZED', 'Invalid or expired refresh token')
      return { token: accessTokenFor(user, fromBin(sessionId)), refreshToken: next, user: toPublicUser(user) }
    },

    async logout (caller) {
      // Tokens of an external identity provider have no session here: the provider ends them.
      if (!caller.external) {
        await repo.revokeSession(toBin(caller.sessionId), 'logout', new Date())
        sessionsEnded(caller.id, [caller.sessionId])
      }
      return { loggedOut: true }
    },

    async changePassword (caller, input, client) {
      if (caller.external) throw new AppError('FORBIDDEN', 'The identity provider manages this account\'s password')
      const user = await repo.findUserById(caller.id)
      if (user === null) throw notFound('User')
      // Guessing the current password is a failed sign-in like any other.
      const account = `user:${user.id}`
      const address = addressKey(client.ip)
      await throttle.check(account, address)
      if (user.password_hash === null || !await verifyPassword(user.password_hash, input.currentPassword)) {
        await throttle.recordFailure(account, address)
        throw new AppError('FORBIDDEN', 'The current password is not correct')
      }
      const passwordHash = await hashPassword(input.newPassword)
      const ended = await fastify.db.transaction().execute(async (trx) => {
        await repo.setPasswordHash(user.id, passwordHash, trx)
        return await repo.revokeOtherSessions(user.id, toBin(caller.sessionId), 'password_change', new Date(), trx)
      })
      sessionsEnded(user.id, ended.map(fromBin))
      return { passwordChanged: true, sessionsEnded: ended.length }
    },

    async currentUser (caller) {
      const user = await repo.findUserById(caller.id)
      if (user === null) throw notFound('User')
      return { user: toPublicUser(user) }
    },

    async createWsTicket (caller) {
      const issued = await issueWsTicket(fastify.store, caller)
      return { ticket: issued.ticket, expiresIn: issued.expiresIn, expiresAt: issued.expiresAt.toISOString() }
    }
  }
}

/** Decorates the root instance with `authService`, shared by REST routes and the WebSocket gateway. */
export default fp(async function authServicePlugin (fastify) {
  const dummyHash = await createDummyHash()
  fastify.decorate('authService', createAuthService(fastify, dummyHash))
  // Whichever instance ended a session, none trusts it from its cache any longer.
  const stop = fastify.bus.onNotice((notice) => {
    if (notice.type === 'sessions_ended') for (const sessionId of notice.sessionIds) fastify.forgetSession(sessionId)
  })
  fastify.addHook('onClose', async () => { stop() })
}, { name: 'auth-service', dependencies: ['db', 'store', 'auth', 'bus'] })
