import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import {
  BlockStateResponse, UpdateProfileRequest, UserIdPathParams, UserListResponse, UserProfileResponse, UserResponse, UserSearchQuery
} from '../../../schemas/users.ts'
import { ok } from '../../lib/envelope.ts'

const Failure = Ref(ErrorResponse)

/**
 * /users: profiles, @mention search and blocking (seed 04). The static paths (/me, /blocked)
 * are separate routes, so they never reach the /:id handler.
 */
const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/', {
    schema: {
      tags: ['users'],
      summary: 'Search users by username prefix (@mention autocomplete)',
      querystring: UserSearchQuery,
      response: { 200: Envelope(Ref(UserListResponse)), 400: Failure, 401: Failure, 429: Failure }
    }
  }, async (request) => {
    const users = await fastify.userService.searchByUsername(request.query.q, request.query.limit)
    return ok({ users })
  })

  fastify.get('/me', {
    schema: {
      tags: ['users'],
      summary: 'The caller\'s own user, with their email',
      response: { 200: Envelope(Ref(UserResponse)), 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ user: await fastify.userService.getOwnUser(request.user.id) })
  })

  fastify.patch('/me', {
    schema: {
      tags: ['users'],
      summary: 'Update the caller\'s display name or avatar',
      body: Ref(UpdateProfileRequest),
      response: { 200: Envelope(Ref(UserResponse)), 400: Failure, 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ user: await fastify.userService.updateProfile(request.user.id, request.body) })
  })

  fastify.get('/blocked', {
    schema: {
      tags: ['users'],
      summary: 'The users the caller has blocked',
      response: { 200: Envelope(Ref(UserListResponse)), 401: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ users: await fastify.userService.listBlocked(request.user.id) })
  })

  fastify.get('/:id', {
    schema: {
      tags: ['users'],
      summary: 'A user\'s public profile (never their email)',
      params: UserIdPathParams,
      response: { 200: Envelope(Ref(UserProfileResponse)), 400: Failure, 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ user: await fastify.userService.getUser(request.params.id) })
  })

  fastify.post('/:id/block', {
    schema: {
      tags: ['users'],
      summary: 'Block a user (idempotent)',
      params: UserIdPathParams,
      response: { 200: Envelope(Ref(BlockStateResponse)), 400: Failure, 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    await fastify.userService.block(request.user.id, request.params.id)
    return ok({ blocked: true, userId: request.params.id })
  })

  fastify.post('/:id/unblock', {
    schema: {
      tags: ['users'],
      summary: 'Unblock a user (idempotent)',
      params: UserIdPathParams,
      response: { 200: Envelope(Ref(BlockStateResponse)), 400: Failure, 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    await fastify.userService.unblock(request.user.id, request.params.id)
    return ok({ blocked: false, userId: request.params.id })
  })
}

export default userRoutes
