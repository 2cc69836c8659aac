import type {
  KeyChangesQuery, KeyChangesResponse, RevokeKeyResponse, UploadKeyRequest, UploadKeyResponse, UserKeysResponse, VerifyKeyRequest, VerifyKeyResponse
} from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /chat/encryption (seed 05 §6): the end-to-end key directory of devices' public keys. */
export function keysApi (call: Call) {
  return {
    /** Publishes this device's public key; a new key for the same device replaces the old one. */
    publish: async (body: UploadKeyRequest) => await call<UploadKeyResponse>('POST', '/chat/encryption/keys', { body }),
    /** A user's active keys, each with whether the caller has verified it. */
    ofUser: async (userId: number) => await call<UserKeysResponse>('GET', pathOf('/chat/encryption/keys/{userId}', { userId })),
    /** The append-only log of a user's key changes (added, replaced, revoked). */
    changes: async (userId: number, query: Partial<KeyChangesQuery> = {}) =>
      await call<KeyChangesResponse>('GET', pathOf('/chat/encryption/keys/{userId}/changes', { userId }), { query }),
    /** Records that the caller compared the key's fingerprint out of band. */
    verify: async (body: VerifyKeyRequest) => await call<VerifyKeyResponse>('POST', '/chat/encryption/verify', { body }),
    revoke: async (keyId: string) => await call<RevokeKeyResponse>('DELETE', pathOf('/chat/encryption/keys/{keyId}', { keyId }))
  }
}
