import type {
  EncryptionKey, KeyChangesQuery, KeyChangesResponse, UserKeysResponse, VerifyKeyRequest, VerifyKeyResponse
} from '../../../schemas/keys.ts'
import { AppError, forbidden, invalid, notFound } from '../../lib/app-error.ts'
import type { GroupService } from '../groups/service.ts'
import { toKeyChange } from './changes.ts'
import { normalizeFingerprint } from './key-material.ts'
import type { KeyRepository, KeyWithVerification } from './repository.ts'

export interface ReadingDeps {
  repo: KeyRepository
  groups: GroupService
}

/**
 * Who may read a user's keys and their change log: the user, and anyone who shares a group
 * with them (a direct chat counts: open it, then fetch the peer's keys). Others get 403, an
 * unknown user 404. Public keys are not secret, but the directory is not a way to enumerate
 * who uses end-to-end encryption.
 */
async function requireReader (deps: ReadingDeps, viewerId: number, ownerId: number): Promise<void> {
  if (viewerId === ownerId) return
  if (!await deps.repo.userExists(ownerId)) throw notFound('User')
  if (!await deps.groups.shareAGroup(viewerId, ownerId)) throw forbidden('You can read the keys of users you share a group with')
}

const toEncryptionKey = (row: KeyWithVerification): EncryptionKey => ({
  keyId: row.key_id,
  deviceId: row.device_id,
  keyType: row.key_type,
  publicKey: row.public_key,
  fingerprint: row.fingerprint,
  createdAt: row.created_at.toISOString(),
  isActive: row.revoked_at === null,
  isVerified: row.verified_at !== null,
  verifiedAt: row.verified_at === null ? null : row.verified_at.toISOString()
})

/** The user's active keys, oldest first, each saying whether the viewer verified it. */
export async function listKeys (deps: ReadingDeps, viewerId: number, ownerId: number): Promise<UserKeysResponse> {
  await requireReader(deps, viewerId, ownerId)
  const rows = await deps.repo.activeKeys(ownerId, viewerId)
  return { userId: ownerId, keys: rows.map(toEncryptionKey) }
}

/**
 * Marks a key verified by the viewer after they compared its fingerprint out of band. Refused
 * when the fingerprint given is not the key's (VALIDATION_ERROR on fingerprint) or the key is
 * no longer active (CONFLICT). A verification covers that key only: a replacement is unverified.
 */
export async function verifyKey (deps: ReadingDeps, viewerId: number, request: VerifyKeyRequest): Promise<VerifyKeyResponse> {
  await requireReader(deps, viewerId, request.userId)
  const key = await deps.repo.findKey(request.userId, request.keyId)
  if (key === null) throw notFound('Key')
  if (key.revoked_at !== null) throw new AppError('CONFLICT', 'This key was replaced or revoked; verify the user\'s current key')
  if (normalizeFingerprint(request.fingerprint) !== key.fingerprint) {
    throw invalid('fingerprint', 'fingerprint does not match the key: compare it with the key owner again')
  }
  const verifiedAt = new Date()
  await deps.repo.recordVerification(viewerId, key, verifiedAt)
  return { verified: true, userId: key.user_id, keyId: key.key_id, fingerprint: key.fingerprint, verifiedAt: verifiedAt.toISOString() }
}

/** A page of the user's key change log, oldest first, after the cursor. */
export async function listChanges (deps: ReadingDeps, viewerId: number, ownerId: number, query: KeyChangesQuery): Promise<KeyChangesResponse> {
  await requireReader(deps, viewerId, ownerId)
  const rows = await deps.repo.changesOf(ownerId, query.after ?? 0, query.limit + 1)
  const hasMore = rows.length > query.limit
  const changes = rows.slice(0, query.limit).map(toKeyChange)
  return { userId: ownerId, changes, hasMore, nextCursor: hasMore ? changes.at(-1)?.id ?? null : null }
}
