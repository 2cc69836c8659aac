import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import {
  KeyChangesQuery, KeyChangesResponse, KeyIdParams, KeyOwnerParams, RevokeKeyResponse, UploadKeyRequest, UploadKeyResponse,
  UserKeysResponse, VerifyKeyRequest, VerifyKeyResponse
} from '../../../schemas/keys.ts'
import { ok } from '../../lib/envelope.ts'

const Failure = Ref(ErrorResponse)
const failures = { 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }

/**
 * /chat/encryption (seed 05 §6): the end-to-end key directory. Every route draws from the
 * `keys` rate-limit category.
 */
const keyRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const keys = fastify.keyService
  const config = { rateLimit: fastify.rateLimitCategory('keys') }

  fastify.post('/keys', {
    config,
    schema: {
      tags: ['keys'],
      summary: 'Publish your public key for a device: 201 when added or replacing the device\'s key, 200 when it was the device\'s key already',
      body: Ref(UploadKeyRequest),
      response: { 200: Envelope(Ref(UploadKeyResponse)), 201: Envelope(Ref(UploadKeyResponse)), ...failures, 409: Failure }
    }
  }, async (request, reply) => {
    const uploaded = await keys.uploadKey(request.user.id, request.body)
    return await reply.code(uploaded.change === null ? 200 : 201).send(ok(uploaded))
  })

  fastify.get('/keys/:userId', {
    config,
    schema: {
      tags: ['keys'],
      summary: 'A user\'s active keys (yours, or of a user you share a group with), with whether you verified each',
      params: KeyOwnerParams,
      response: { 200: Envelope(Ref(UserKeysResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await keys.listKeys(request.user.id, request.params.userId))
  })

  fastify.get('/keys/:userId/changes', {
    config,
    schema: {
      tags: ['keys'],
      summary: 'A user\'s key change log (added, replaced, revoked), oldest first; append-only',
      params: KeyOwnerParams,
      querystring: KeyChangesQuery,
      response: { 200: Envelope(Ref(KeyChangesResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await keys.listChanges(request.user.id, request.params.userId, request.query))
  })

  fastify.delete('/keys/:keyId', {
    config,
    schema: {
      tags: ['keys'],
      summary: 'Revoke one of your keys',
      params: KeyIdParams,
      response: { 200: Envelope(Ref(RevokeKeyResponse)), ...failures }
    }
  }, async (request) => {
    return ok(await keys.revokeKey(request.user.id, request.params.keyId))
  })

  fastify.post('/verify', {
    config,
    schema: {
      tags: ['keys'],
      summary: 'Mark a user\'s key verified after comparing its fingerprint; refused when the fingerprint does not match',
      body: Ref(VerifyKeyRequest),
      response: { 200: Envelope(Ref(VerifyKeyResponse)), ...failures, 409: Failure }
    }
  }, async (request) => {
    return ok(await keys.verifyKey(request.user.id, request.body))
  })
}

export default keyRoutes
