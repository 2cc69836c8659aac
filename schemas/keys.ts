import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, userId, isoDateTime } from './common.ts'

/*
 * The end-to-end encryption key directory (seed 05 §6, DESIGN §4 "keys"): each device of a user
 * publishes one public key; peers read them, compare fingerprints out of band and mark keys
 * verified; every change is appended to a per-user log that is never rewritten and announced
 * as chat:key_changed. Private keys never reach the server. Fields are camelCase as everywhere.
 *
 * The fingerprint of a key is the lowercase hex SHA-256 of its SubjectPublicKeyInfo DER
 * encoding (RFC 5280 §4.1.2.7), whatever form it was uploaded in: a raw 32-byte X25519 key and
 * the same key as an SPKI PEM have the same fingerprint.
 */

const UserIdInt = userId()
const IsoTime = isoDateTime()

export const KEY_LIMITS = {
  publicKeyMaxLength: 16_384,
  changesPageDefault: 50,
  changesPageMax: 200
} as const

/** Client-chosen key ids: short, URL-safe, case-sensitive. Server-made ones are UUIDs. */
export const KeyId = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$', description: 'Unique per user, never reused', $id: 'KeyId' })
export type KeyId = Static<typeof KeyId>

export const DeviceId = Type.String({ pattern: '^[\\x21-\\x7E]{1,128}$', description: 'The device the key lives on: printable ASCII, no spaces', $id: 'DeviceId' })
export type DeviceId = Static<typeof DeviceId>

export const PublicKeyType = Type.Union([
  Type.Literal('x25519'), Type.Literal('ed25519'), Type.Literal('ec-p256'), Type.Literal('ec-p384'), Type.Literal('ec-p521'), Type.Literal('rsa')
], { $id: 'PublicKeyType', description: 'The algorithm of a public key (RSA keys have at least 2048 bits)' })
export type PublicKeyType = Static<typeof PublicKeyType>

/** SHA-256 of the SPKI DER, 64 hex digits; on input, pairs may be separated by spaces or colons. */
export const KeyFingerprint = Type.String({
  pattern: '^[0-9A-Fa-f]{2}([ :]?[0-9A-Fa-f]{2}){31}$',
  description: 'SHA-256 of the key\'s SPKI DER encoding, hex (answers are lowercase without separators)',
  $id: 'KeyFingerprint'
})
export type KeyFingerprint = Static<typeof KeyFingerprint>

/** POST /chat/encryption/keys */
export const UploadKeyRequest = Type.Object({
  publicKey: Type.String({
    minLength: 1,
    maxLength: KEY_LIMITS.publicKeyMaxLength,
    description: 'An SPKI PEM ("-----BEGIN PUBLIC KEY-----"), or a raw 32-byte X25519 or Ed25519 key in base64'
  }),
  deviceId: Ref(DeviceId),
  keyId: Type.Optional(Ref(KeyId)),
  keyType: Type.Optional(Type.Union([Type.Literal('x25519'), Type.Literal('ed25519')], {
    description: 'For a raw key: which curve it is on (default x25519). For a PEM: must match the key if given.'
  }))
}, { $id: 'UploadKeyRequest', additionalProperties: false })
export type UploadKeyRequest = Static<typeof UploadKeyRequest>

export const KeyChangeKind = Type.Union([
  Type.Literal('added'), Type.Literal('replaced'), Type.Literal('revoked')
], { $id: 'KeyChangeKind', description: 'added: a device\'s first key; replaced: a new key for a device that had one; revoked: a key withdrawn' })
export type KeyChangeKind = Static<typeof KeyChangeKind>

/** Seed 05 §6's response, camelCase, plus what changed. */
export const UploadKeyResponse = Type.Object({
  keyId: Ref(KeyId),
  deviceId: Ref(DeviceId),
  keyType: Ref(PublicKeyType),
  fingerprint: Type.String(),
  uploadedAt: IsoTime,
  change: Type.Union([Ref(KeyChangeKind), Type.Null()], { description: 'null when the same key was uploaded again (nothing changed)' }),
  replacedKeyId: Type.Union([Ref(KeyId), Type.Null()], { description: 'The device\'s previous key, now inactive' })
}, { $id: 'UploadKeyResponse' })
export type UploadKeyResponse = Static<typeof UploadKeyResponse>

/** One device key as a peer reads it. */
export const EncryptionKey = Type.Object({
  keyId: Ref(KeyId),
  deviceId: Ref(DeviceId),
  keyType: Ref(PublicKeyType),
  publicKey: Type.String({ description: 'As uploaded: SPKI PEM, or raw base64' }),
  fingerprint: Type.String(),
  createdAt: IsoTime,
  isActive: Type.Boolean(),
  isVerified: Type.Boolean({ description: 'The caller verified this key\'s fingerprint' }),
  verifiedAt: Type.Union([IsoTime, Type.Null()])
}, { $id: 'EncryptionKey' })
export type EncryptionKey = Static<typeof EncryptionKey>

export const UserKeysResponse = Type.Object({
  userId: UserIdInt,
  keys: Type.Array(Ref(EncryptionKey))
}, { $id: 'UserKeysResponse' })
export type UserKeysResponse = Static<typeof UserKeysResponse>

/** POST /chat/encryption/verify */
export const VerifyKeyRequest = Type.Object({
  userId: UserIdInt,
  keyId: Ref(KeyId),
  fingerprint: Ref(KeyFingerprint)
}, { $id: 'VerifyKeyRequest', additionalProperties: false })
export type VerifyKeyRequest = Static<typeof VerifyKeyRequest>

export const VerifyKeyResponse = Type.Object({
  verified: Type.Literal(true),
  userId: UserIdInt,
  keyId: Ref(KeyId),
  fingerprint: Type.String(),
  verifiedAt: IsoTime
}, { $id: 'VerifyKeyResponse' })
export type VerifyKeyResponse = Static<typeof VerifyKeyResponse>

export const RevokeKeyResponse = Type.Object({
  revoked: Type.Literal(true),
  keyId: Ref(KeyId),
  revokedAt: IsoTime
}, { $id: 'RevokeKeyResponse' })
export type RevokeKeyResponse = Static<typeof RevokeKeyResponse>

/** One entry of a user's key change log. */
export const KeyChange = Type.Object({
  id: Type.Integer({ minimum: 1, description: 'Increases with every change: the log\'s order and cursor' }),
  userId: UserIdInt,
  deviceId: Ref(DeviceId),
  keyId: Ref(KeyId),
  change: Ref(KeyChangeKind),
  fingerprint: Type.String(),
  previousKeyId: Type.Union([Ref(KeyId), Type.Null()], { description: 'For replaced: the key it replaced' }),
  changedAt: IsoTime
}, { $id: 'KeyChange' })
export type KeyChange = Static<typeof KeyChange>

/** GET /chat/encryption/keys/:userId/changes: oldest first, after a cursor. */
export const KeyChangesQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'The id of the last change already seen (nextCursor of the previous page)' })),
  limit: Type.Integer({ minimum: 1, maximum: KEY_LIMITS.changesPageMax, default: KEY_LIMITS.changesPageDefault })
})
export type KeyChangesQuery = Static<typeof KeyChangesQuery>

export const KeyChangesResponse = Type.Object({
  userId: UserIdInt,
  changes: Type.Array(Ref(KeyChange)),
  hasMore: Type.Boolean(),
  nextCursor: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])
}, { $id: 'KeyChangesResponse' })
export type KeyChangesResponse = Static<typeof KeyChangesResponse>

export const KeyOwnerParams = Type.Object({ userId: UserIdInt })
export type KeyOwnerParams = Static<typeof KeyOwnerParams>

export const KeyIdParams = Type.Object({ keyId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }) })
export type KeyIdParams = Static<typeof KeyIdParams>

export const keySchemas: TSchema[] = [
  KeyId, DeviceId, PublicKeyType, KeyFingerprint, UploadKeyRequest, KeyChangeKind, UploadKeyResponse, EncryptionKey,
  UserKeysResponse, VerifyKeyRequest, VerifyKeyResponse, RevokeKeyResponse, KeyChange, KeyChangesResponse
]
