import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { AuthTokens, ChangePasswordRequest, CurrentUser, LoginRequest, LogoutResult, PasswordChanged, RegisterRequest, WsTicket } from '../../../schemas/auth.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { currentUser } from './current-user.ts'
import type { AuthDeps } from './deps.ts'
import { createLoginThrottle } from './login-throttle.ts'
import { login } from './login.ts'
import { createDummyHash } from './passwords.ts'
import { changePassword } from './password-change.ts'
import { refresh, refreshSessionOf } from './refresh.ts'
import { refreshKeyOf } from './refresh-token.ts'
import { register } from './register.ts'
import { createAuthRepository } from './repository.ts'
import { logout } from './sessions.ts'
import { createWsTicket } from './tickets.ts'

export { REFRESH_LIMIT_PER_SESSION } from './refresh.ts'

/*
 * The auth area (DESIGN §4), by file: register.ts; login.ts (with login-throttle.ts and
 * passwords.ts); sessions.ts (open a session, logout, the sessions_ended notice); refresh.ts
 * (rotation, reuse detection) over refresh-token.ts (the token format); password-change.ts;
 * current-user.ts; tickets.ts (WebSocket tickets). They work over one AuthDeps (deps.ts) built
 * here. Verifying tokens and checking sessions on every request is the auth plugin's
 * (plugins/auth.ts, over token-verification.ts, session-check.ts, external-identity.ts).
 */

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

/** The service over its dependencies: each operation is the function of the same name in its job's file. */
export function createAuthService (deps: AuthDeps): AuthService {
  return {
    register: (input) => register(deps, input),
    login: (input, client) => login(deps, input, client),
    refresh: (refreshToken) => refresh(deps, refreshToken),
    refreshSessionOf: (refreshToken) => refreshSessionOf(deps, refreshToken),
    logout: (caller) => logout(deps, caller),
    changePassword: (caller, input, client) => changePassword(deps, caller, input, client),
    currentUser: (caller) => currentUser(deps, caller),
    createWsTicket: (caller) => createWsTicket(deps, caller)
  }
}

/** What auth works with, taken from the app once at registration (the plugin's dependencies provide each). */
export function authDepsOf (fastify: FastifyInstance, dummyHash: string): AuthDeps {
  return {
    db: fastify.db,
    repo: createAuthRepository(fastify.db),
    throttle: createLoginThrottle(fastify.store.counters, fastify.config.rateLimitScale, fastify.log, fastify.clock),
    bus: fastify.bus,
    store: fastify.store,
    log: fastify.log,
    signAccessToken: fastify.signAccessToken,
    refreshKey: refreshKeyOf(fastify.config.jwt.secret),
    dummyHash,
    config: { refreshTtlSeconds: fastify.config.jwt.refreshTtlSeconds }
  }
}

/** Decorates the root instance with `authService`, shared by REST routes and the WebSocket gateway. */
export default fp(async function authServicePlugin (fastify) {
  const dummyHash = await createDummyHash()
  fastify.decorate('authService', createAuthService(authDepsOf(fastify, dummyHash)))
  // Whichever instance ended a session, none trusts it from its cache any longer.
  const stop = fastify.bus.onNotice((notice) => {
    if (notice.type === 'sessions_ended') for (const sessionId of notice.sessionIds) fastify.forgetSession(sessionId)
  })
  fastify.addHook('onClose', async () => { stop() })
}, { name: 'auth-service', dependencies: ['db', 'store', 'auth', 'bus'] })
