import { createSecretKey, type KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Database } from '../../db/database.ts'
import { createRecentTokens, tokens } from './keyring/blind-index.ts'
import { dataKey, dataKeyOfVersion, destroyGroupKeys, rotate, rotateAll } from './keyring/key-versions.ts'
import { createOpenedCache } from './keyring/opened-records.ts'
import { decrypt, decryptAll, encrypt } from './keyring/records.ts'
import { groupKeyRepository } from './keyring/repository.ts'
import type { GroupKeys, KeyringState } from './keyring/state.ts'

export { INDEX_TOKEN_BYTES } from './keyring/blind-index.ts'
export { DATA_KEY_BYTES } from './keyring/key-versions.ts'
export { groupKeyRepository } from './keyring/repository.ts'
export { dataKeyAad, DecryptionError, IV_BYTES, recordAad, TAG_BYTES } from './keyring/sealing.ts'

/**
 * Encryption at rest and the blind search index (DESIGN §6), usable without Fastify: the
 * crypto plugin decorates the app with one, scripts/rotate-keys.ts builds its own.
 *
 * - Every group has data keys (AES-256-GCM, 32 random bytes), versioned for rotation and stored
 *   in group_data_keys wrapped by the master key. A record names the version that sealed it.
 * - A record is sealed with a random 96-bit IV and authenticated with the group id, the record
 *   id, the key version and the field as AAD, so a ciphertext copied to another group, record
 *   or field, or altered in any byte, does not decrypt.
 * - Search tokens are HMACs under a per-group index key derived from the master key.
 */

export interface Sealed {
  /** iv (12 bytes) | GCM tag (16 bytes) | encrypted data. */
  ciphertext: Buffer
  keyVersion: number
}

export interface SealContext {
  /** The record the value belongs to, e.g. the message id. */
  recordId: string
  /** Which value of the record, e.g. 'content', 'metadata', 'edit:3'. */
  field: string
}

export interface Keyring {
  /** Encrypts with the group's newest data key, creating version 1 lazily (race-safe). */
  encrypt: (groupId: string, plaintext: string, context: SealContext) => Promise<Sealed>
  /** Decrypts; throws if the ciphertext was moved to another group/record/field or tampered with. */
  decrypt: (groupId: string, sealed: Sealed, context: SealContext) => Promise<string>
  /** Decrypts several records of one group, as `decrypt` each (a page of history: one wait for the keys, not one per record). */
  decryptAll: (groupId: string, records: ReadonlyArray<{ sealed: Sealed, context: SealContext }>) => Promise<string[]>
  /** Adds a new key version for the group; later encryptions use it, older records still decrypt. Returns the new version. */
  rotate: (groupId: string) => Promise<number>
  /** Rotates every group that has a key. Returns how many. */
  rotateAll: () => Promise<number>
  /** Blind-index tokens for a message's text (deduplicated 16-byte HMACs under the group's index key). */
  indexTokens: (groupId: string, text: string) => Buffer[]
  /** Tokens a search query must all match; empty when the query has no searchable word. */
  queryTokens: (groupId: string, query: string) => Buffer[]
  /**
   * Deletes every key of the group (crypto-shredding): its records can never be decrypted again.
   * For after a group is deleted. Returns how many key versions were removed.
   */
  destroyGroupKeys: (groupId: string) => Promise<number>
  /**
   * The group's newest data key itself, for sealing what is too large for one record: files,
   * sealed chunk by chunk as they stream (src/modules/attachments/sealed-stream.ts).
   */
  dataKey: (groupId: string) => Promise<{ version: number, key: KeyObject }>
  /** A version of the group's data key, to open what `dataKey` sealed; DecryptionError when it does not exist. */
  dataKeyOfVersion: (groupId: string, version: number) => Promise<KeyObject>
}

export interface KeyringOptions {
  db: Kysely<Database>
  /** ENCRYPTION_MASTER_KEY: 32 bytes. */
  masterKey: Buffer
  /** How many groups' unwrapped keys stay in memory (least recently used evicted). */
  maxCachedGroups?: number
  /** How long the newest key version of a group is trusted before it is re-read. */
  newestVersionTtlMs?: number
  /** Bytes of recently opened records kept to answer the same ciphertext again (0: none). */
  openedCacheBytes?: number
}

export const MASTER_KEY_BYTES = 32
export const DEFAULT_MAX_CACHED_GROUPS = 5000
/**
 * Encryptions use the newest version this instance has seen in the last few seconds. A rotation
 * made here is used at once; one made by another instance (or the rotate script) is picked up
 * when this expires. Meanwhile this instance keeps sealing with the previous version, which is
 * safe: old versions are never deleted by a rotation and still decrypt everywhere. The cost on
 * the hot send path is at most one indexed primary-key read per group per interval.
 */
export const DEFAULT_NEWEST_VERSION_TTL_MS = 5000
/**
 * Recently opened records, answered again without AES-GCM (issue 16.5: a page of history is
 * read by every member, again and again, and its decryption was a seventh of the page's CPU).
 * The entry is found by the record's AAD and used only when the stored ciphertext is byte for
 * byte the one it was opened from, so it answers exactly what decryption would: an edit
 * writes a new ciphertext (a fresh IV), so an edited record misses and is opened anew. A
 * group's entries go with its keys (destroyGroupKeys). The plaintext is held in this
 * process's memory only, beside the keys that open it.
 */
export const DEFAULT_OPENED_CACHE_BYTES = 16 * 1024 * 1024

/**
 * Creates a keyring over the group_data_keys table. Throws if the master key is not 32 bytes.
 * Its jobs live in keyring/: key-versions.ts (versions, rotation, shredding), records.ts
 * (sealing and opening records), opened-records.ts (the cache of opened records),
 * blind-index.ts (search tokens), sealing.ts (AES-GCM and the AADs).
 */
export function createKeyring (options: KeyringOptions): Keyring {
  if (!Buffer.isBuffer(options.masterKey) || options.masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`The encryption master key must be ${MASTER_KEY_BYTES} bytes`)
  }
  const maxGroups = options.maxCachedGroups ?? DEFAULT_MAX_CACHED_GROUPS
  const state: KeyringState = {
    masterKey: createSecretKey(Buffer.from(options.masterKey)),
    repository: groupKeyRepository(options.db),
    newestTtlMs: options.newestVersionTtlMs ?? DEFAULT_NEWEST_VERSION_TTL_MS,
    groups: new LRUCache<string, GroupKeys>({ max: maxGroups }),
    loading: new Map(),
    indexKeys: new LRUCache<string, KeyObject>({ max: maxGroups }),
    recentTokens: createRecentTokens(),
    opened: createOpenedCache(options.openedCacheBytes ?? DEFAULT_OPENED_CACHE_BYTES)
  }
  const tokensOf = (groupId: string, text: string): Buffer[] => tokens(state, groupId, text)
  return {
    encrypt: (groupId, plaintext, context) => encrypt(state, groupId, plaintext, context),
    decrypt: (groupId, sealed, context) => decrypt(state, groupId, sealed, context),
    decryptAll: (groupId, records) => decryptAll(state, groupId, records),
    rotate: (groupId) => rotate(state, groupId),
    rotateAll: () => rotateAll(state),
    indexTokens: tokensOf,
    queryTokens: tokensOf,
    destroyGroupKeys: (groupId) => destroyGroupKeys(state, groupId),
    dataKey: (groupId) => dataKey(state, groupId),
    dataKeyOfVersion: (groupId, version) => dataKeyOfVersion(state, groupId, version)
  }
}
