import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import type { RevokeKeyResponse, UploadKeyRequest, UploadKeyResponse } from '../../../schemas/keys.ts'
import { AppError, notFound } from '../../lib/app-error.ts'
import { newId } from '../../lib/ids.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { GroupService } from '../groups/service.ts'
import { announceKeyChange, toLogEntry, type KeyChangeFact } from './changes.ts'
import { parsePublicKey } from './key-material.ts'
import type { DeviceKeyRow, KeyRepository } from './repository.ts'

export interface PublishingDeps {
  db: Kysely<Database>
  repo: KeyRepository
  groups: GroupService
  bus: Bus
}

const uploaded = (key: DeviceKeyRow, change: UploadKeyResponse['change'], replacedKeyId: string | null): UploadKeyResponse => ({
  keyId: key.key_id,
  deviceId: key.device_id,
  keyType: key.key_type,
  fingerprint: key.fingerprint,
  uploadedAt: key.created_at.toISOString(),
  change,
  replacedKeyId
})

/**
 * Publishes a device's public key. The device's previous active key, if any, becomes inactive
 * and the change is `replaced`; otherwise it is `added`. Uploading the device's current key
 * again changes nothing (`change: null`). A keyId is never reused: one taken by another key
 * is a CONFLICT.
 */
export async function uploadKey (deps: PublishingDeps, userId: number, request: UploadKeyRequest): Promise<UploadKeyResponse> {
  const material = parsePublicKey(request.publicKey, request.keyType)
  const { deviceId } = request
  const keyId = request.keyId ?? newId()
  const outcome = await deps.db.transaction().execute(async (trx) => {
    if (!await deps.repo.lockOwner(userId, trx)) throw notFound('User')
    const sameId = await deps.repo.findKey(userId, keyId, trx)
    if (sameId !== null) {
      if (sameId.revoked_at === null && sameId.device_id === deviceId && sameId.fingerprint === material.fingerprint) {
        return { response: uploaded(sameId, null, null), fact: null }
      }
      throw new AppError('CONFLICT', `keyId ${keyId} is already used by another key; key ids are never reused`)
    }
    const current = await deps.repo.activeKeyOfDevice(userId, deviceId, trx)
    if (request.keyId === undefined && current?.fingerprint === material.fingerprint) {
      return { response: uploaded(current, null, null), fact: null }
    }
    const changedAt = new Date()
    if (current !== null) await deps.repo.deactivate(userId, current.key_id, changedAt, trx)
    const key: DeviceKeyRow = {
      user_id: userId,
      key_id: keyId,
      device_id: deviceId,
      key_type: material.keyType,
      public_key: material.publicKey,
      fingerprint: material.fingerprint,
      created_at: changedAt,
      revoked_at: null
    }
    await deps.repo.insertKey(key, trx)
    const fact: KeyChangeFact = {
      userId, deviceId, keyId, kind: current === null ? 'added' : 'replaced', fingerprint: material.fingerprint, previousKeyId: current?.key_id ?? null, changedAt
    }
    await deps.repo.appendChange(toLogEntry(fact), trx)
    return { response: uploaded(key, fact.kind, fact.previousKeyId), fact }
  })
  if (outcome.fact !== null) await announceKeyChange(deps, outcome.fact)
  return outcome.response
}

/** Revokes one of the caller's keys; revoking it again changes nothing. */
export async function revokeKey (deps: PublishingDeps, userId: number, keyId: string): Promise<RevokeKeyResponse> {
  const outcome = await deps.db.transaction().execute(async (trx) => {
    if (!await deps.repo.lockOwner(userId, trx)) throw notFound('Key')
    const key = await deps.repo.findKey(userId, keyId, trx)
    if (key === null) throw notFound('Key')
    if (key.revoked_at !== null) return { revokedAt: key.revoked_at, fact: null }
    const changedAt = new Date()
    await deps.repo.deactivate(userId, keyId, changedAt, trx)
    const fact: KeyChangeFact = { userId, deviceId: key.device_id, keyId, kind: 'revoked', fingerprint: key.fingerprint, previousKeyId: null, changedAt }
    await deps.repo.appendChange(toLogEntry(fact), trx)
    return { revokedAt: changedAt, fact }
  })
  if (outcome.fact !== null) await announceKeyChange(deps, outcome.fact)
  return { revoked: true, keyId, revokedAt: outcome.revokedAt.toISOString() }
}
