import fp from 'fastify-plugin'
import type {
  KeyChangesQuery, KeyChangesResponse, RevokeKeyResponse, UploadKeyRequest, UploadKeyResponse, UserKeysResponse,
  VerifyKeyRequest, VerifyKeyResponse
} from '../../../schemas/keys.ts'
import { revokeKey, uploadKey } from './publishing.ts'
import { listChanges, listKeys, verifyKey } from './reading.ts'
import { keyRepository } from './repository.ts'

/** The end-to-end key directory (seed 05 §6): public keys per device, verifications, the change log. */
export interface KeyService {
  /** Publishes the caller's key for a device, replacing the device's previous key. */
  uploadKey: (userId: number, request: UploadKeyRequest) => Promise<UploadKeyResponse>
  /** A user's active keys, for the user or someone who shares a group with them. */
  listKeys: (viewerId: number, ownerId: number) => Promise<UserKeysResponse>
  /** Marks another user's key verified by the caller when the fingerprint matches. */
  verifyKey: (viewerId: number, request: VerifyKeyRequest) => Promise<VerifyKeyResponse>
  /** Revokes one of the caller's keys. */
  revokeKey: (userId: number, keyId: string) => Promise<RevokeKeyResponse>
  /** A page of a user's append-only key change log. */
  listChanges: (viewerId: number, ownerId: number, query: KeyChangesQuery) => Promise<KeyChangesResponse>
}

declare module 'fastify' {
  interface FastifyInstance {
    keyService: KeyService
  }
}

export default fp(async function keyServicePlugin (fastify) {
  const repo = keyRepository(fastify.db)
  const publishing = { db: fastify.db, repo, groups: fastify.groupService, bus: fastify.bus }
  const reading = { repo, groups: fastify.groupService }
  const service: KeyService = {
    uploadKey: async (userId, request) => await uploadKey(publishing, userId, request),
    listKeys: async (viewerId, ownerId) => await listKeys(reading, viewerId, ownerId),
    verifyKey: async (viewerId, request) => await verifyKey(reading, viewerId, request),
    revokeKey: async (userId, keyId) => await revokeKey(publishing, userId, keyId),
    listChanges: async (viewerId, ownerId, query) => await listChanges(reading, viewerId, ownerId, query)
  }
  fastify.decorate('keyService', service)
}, { name: 'key-service', dependencies: ['db', 'bus', 'group-service'] })
