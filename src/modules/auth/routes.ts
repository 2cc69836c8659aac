import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  AuthTokens, ChangePasswordRequest, CurrentUser, LoginRequest, LogoutResult, PasswordChanged, RefreshRequest, RegisterRequest, WsTicket
} from '../../../schemas/auth.ts'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { ok } from '../../lib/envelope.ts'
import { addressKey } from '../../lib/client-address.ts'
import { HTTP_RATE_LIMITS, RATE_LIMIT_WINDOW_MS } from '../../plugins/rate-limit.ts'
import { REFRESH_LIMIT_PER_SESSION } from './refresh.ts'
import type { AuthService } from './service.ts'

const tags = ['auth']
const bearer = [{ bearerAuth: [] }]
const Failure = Ref(ErrorResponse)

/**
 * The refresh route's limit: refreshes count per session, not per address (many phones share one
 * carrier NAT address). A token we did not issue has no session and counts against its
 * address's auth budget.
 */
function refreshRateLimit (service: Pick<AuthService, 'refreshSessionOf'>, scale: number) {
  const perSessionLimit = Math.max(1, Math.floor(REFRESH_LIMIT_PER_SESSION * scale))
  const perAddressLimit = Math.max(1, Math.floor(HTTP_RATE_LIMITS.auth * scale))
  return {
    timeWindow: RATE_LIMIT_WINDOW_MS,
    max: (_request: unknown, key: string) => key.startsWith('refresh:s:') ? perSessionLimit : perAddressLimit,
    keyGenerator: (request: { body?: unknown, ip: string }) => {
      const sessionId = service.refreshSessionOf((request.body as { refreshToken?: unknown } | undefined)?.refreshToken)
      return sessionId !== null ? `refresh:s:${sessionId}` : `refresh:ip:${addressKey(request.ip)}`
    }
  }
}

/** Auth endpoints (DESIGN §4): sign-up, sign-in, token refresh, sign-out, the caller, WS tickets. */
const routes: FastifyPluginAsyncTypebox = async (fastify) => {
  const service = fastify.authService
  // Unauthenticated endpoints share one per-IP budget; login also throttles failures (login-throttle.ts).
  const perIp = { rateLimit: fastify.rateLimitCategory('auth') }
  const perSession = { rateLimit: refreshRateLimit(service, fastify.config.rateLimitScale) }

  fastify.post('/register', {
    config: perIp,
    schema: {
      tags,
      summary: 'Create an account and sign in',
      body: Ref(RegisterRequest),
      response: { 201: Envelope(Ref(AuthTokens)), 400: Failure, 409: Failure, 429: Failure }
    }
  }, async (request, reply) => {
    const tokens = await service.register(request.body)
    return await reply.code(201).send(ok(tokens))
  })

  fastify.post('/login', {
    config: perIp,
    schema: {
      tags,
      summary: 'Sign in with email or username',
      body: Ref(LoginRequest),
      response: { 200: Envelope(Ref(AuthTokens)), 400: Failure, 401: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.login(request.body, { ip: request.ip })))

  fastify.post('/refresh', {
    config: perSession,
    schema: {
      tags,
      summary: 'Trade a refresh token for new tokens (single use)',
      body: Ref(RefreshRequest),
      response: { 200: Envelope(Ref(AuthTokens)), 400: Failure, 401: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.refresh(request.body.refreshToken)))

  fastify.post('/logout', {
    onRequest: fastify.authenticate,
    schema: {
      tags,
      summary: 'End the current session',
      security: bearer,
      response: { 200: Envelope(Ref(LogoutResult)), 401: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.logout(request.user)))

  fastify.post('/password', {
    onRequest: fastify.authenticate,
    schema: {
      tags,
      summary: 'Change the password; every other session of the user ends (its sockets close with 4001)',
      security: bearer,
      body: Ref(ChangePasswordRequest),
      response: { 200: Envelope(Ref(PasswordChanged)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.changePassword(request.user, request.body, { ip: request.ip })))

  fastify.get('/me', {
    onRequest: fastify.authenticate,
    schema: {
      tags,
      summary: 'The signed-in user',
      security: bearer,
      response: { 200: Envelope(Ref(CurrentUser)), 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.currentUser(request.user)))

  fastify.post('/ws-ticket', {
    onRequest: fastify.authenticate,
    schema: {
      tags,
      summary: 'A single-use ticket (30 s) for ?ticket= on the WebSocket URL',
      security: bearer,
      response: { 200: Envelope(Ref(WsTicket)), 401: Failure, 429: Failure }
    }
  }, async (request) => ok(await service.createWsTicket(request.user)))
}

export default routes
