import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto'
import { fromBin, toBin } from '../ids.ts'

/*
 * AES-256-GCM sealing and opening, and the AAD that binds a sealed value to where it belongs.
 * Pure functions of their arguments (and the IV pool): the keyring's state is elsewhere.
 */

/** Thrown when a record or a wrapped key does not authenticate. Services map it to a 500. */
export class DecryptionError extends Error {
  override name = 'DecryptionError'
}

export const IV_BYTES = 12
export const TAG_BYTES = 16
const ALGORITHM = 'aes-256-gcm'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Random IVs cut from a pool refilled in 4 KiB blocks: one CSPRNG call per ~340 seals instead of
 * one each. Each IV is used once; the pool is never reread.
 */
const IV_POOL_BYTES = 4096
let ivPool = Buffer.alloc(0)
let ivOffset = 0
function nextIv (): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES)
    ivOffset = 0
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES)
  ivOffset += IV_BYTES
  return iv
}

/** iv | tag | data under AES-256-GCM with the given AAD. */
export function seal (key: KeyObject, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv()
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), data])
}

export function open (key: KeyObject, sealed: Buffer, aad: string, what: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new DecryptionError(`Cannot decrypt ${what}: ciphertext too short`)
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
  decipher.setAAD(Buffer.from(aad, 'utf8'))
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
  try {
    const data = decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES))
    // GCM's final() only checks the tag: it returns no more bytes.
    const rest = decipher.final()
    return rest.length === 0 ? data : Buffer.concat([data, rest])
  } catch (err) {
    throw new DecryptionError(`Cannot decrypt ${what}: it does not authenticate (tampered, moved or wrong key)`, { cause: err })
  }
}

/** The AAD of a record: binds it to its group, record, key version and field. */
export function recordAad (groupId: string, recordId: string, keyVersion: number, field: string): string {
  return `${groupId}|${recordId}|${keyVersion}|${field}`
}

/** The AAD of a wrapped data key: binds it to its group and version. */
export function dataKeyAad (groupId: string, version: number): string {
  return `parley:group-data-key|${groupId}|${version}`
}

/**
 * Group ids are UUIDs; the canonical lowercase form keeps AAD and caches independent of how a
 * client spelled it. Ids read from the database are canonical already (every decryption of a
 * page passes one): a pattern test answers them without a parse and a re-format.
 */
export function canonicalGroupId (groupId: string): string {
  return CANONICAL_UUID.test(groupId) ? groupId : fromBin(toBin(groupId))
}

export function canonicalRecordId (recordId: string): string {
  return CANONICAL_UUID.test(recordId) ? recordId : UUID.test(recordId) ? recordId.toLowerCase() : recordId
}

export function checkVersion (keyVersion: number): void {
  if (!Number.isInteger(keyVersion) || keyVersion < 1) {
    throw new DecryptionError(`Cannot decrypt: invalid key version ${String(keyVersion)}`)
  }
}
