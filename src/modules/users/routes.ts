import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import {
  BlockedUserListResponse, BlockStateResponse, BlockUserRequest, UpdateProfileRequest, UserIdPathParams, UserListResponse, UserProfileResponse, UserResponse, UserSearchQuery
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
      summary: 'The users the caller has blocked, most recent first, with the reason given and when',
      response: { 200: Envelope(Ref(BlockedUserListResponse)), 401: Failure, 429: Failure }
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
    // The body is optional: a bare POST blocks without a reason.
    preValidation: async (request) => { request.body ??= {} },
    schema: {
      tags: ['users'],
      summary: 'Block a user (idempotent; a reason given again replaces the old one). Their messages, mentions, typing and presence are hidden from you everywhere',
      params: UserIdPathParams,
      body: Ref(BlockUserRequest),
      response: { 200: Envelope(Ref(BlockStateResponse)), 400: Failure, 401: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    await fastify.userService.block(request.user.id, request.params.id, request.body.reason)
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
