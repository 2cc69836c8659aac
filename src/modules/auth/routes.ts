import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthTokens, CurrentUser, LoginRequest, LogoutResult, RefreshRequest, RegisterRequest, WsTicket } from '../../../schemas/auth.ts'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { ok } from '../../lib/envelope.ts'

const tags = ['auth']
const bearer = [{ bearerAuth: [] }]
const Failure = Ref(ErrorResponse)

/** Auth endpoints (DESIGN §4): sign-up, sign-in, token refresh, sign-out, the caller, WS tickets. */
const routes: FastifyPluginAsyncTypebox = async (fastify) => {
  const service = fastify.authService
  // Unauthenticated endpoints share one per-IP budget; login also counts failures per account.
  const perIp = { rateLimit: fastify.rateLimitCategory('auth') }

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
    config: perIp,
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
