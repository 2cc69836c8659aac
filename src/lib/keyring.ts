import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Database } from '../../db/database.ts'
import { fromBin, toBin } from './ids.ts'
import { searchTerms } from './search-tokens.ts'

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

/** Thrown when a record or a wrapped key does not authenticate. Services map it to a 500. */
export class DecryptionError extends Error {
  override name = 'DecryptionError'
}

export const MASTER_KEY_BYTES = 32
export const DATA_KEY_BYTES = 32
export const IV_BYTES = 12
export const TAG_BYTES = 16
export const INDEX_TOKEN_BYTES = 16
export const DEFAULT_MAX_CACHED_GROUPS = 5000
/** Groups whose recent word tokens are kept, and words kept per group: ~50,000 pairs, ~10 MiB. */
const RECENT_TOKEN_GROUPS = 200
const RECENT_TOKENS_PER_GROUP = 256
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
/** What an entry costs besides its ciphertext and text: the key string, the object, the LRU's bookkeeping. */
const OPENED_ENTRY_OVERHEAD_BYTES = 200
const ALGORITHM = 'aes-256-gcm'
const MAX_ROTATE_ATTEMPTS = 5
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface GroupKeys {
  /** Unwrapped data keys by version. */
  /** Unwrapped data keys as KeyObjects: importing raw key bytes on every seal costs more than the AES-GCM itself. */
  versions: Map<number, KeyObject>
  newest: number | null
  newestCheckedAt: number
}

interface KeyRow {
  version: number
  wrapped_key: Buffer
}

/** A record opened recently: its ciphertext (a copy, not a view of a driver's packet) and text. */
interface OpenedRecord {
  ciphertext: Buffer
  text: string
}

type Executor = Kysely<Database> | Transaction<Database>

/** Every query of the keyring: group_data_keys only. */
export function groupKeyRepository (db: Kysely<Database>) {
  return {
    async findNewest (groupBin: Buffer, trx: Executor = db): Promise<KeyRow | null> {
      const row = await trx.selectFrom('group_data_keys')
        .select(['version', 'wrapped_key'])
        .where('group_id', '=', groupBin)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst()
      return row ?? null
    },

    async findVersion (groupBin: Buffer, version: number, trx: Executor = db): Promise<KeyRow | null> {
      const row = await trx.selectFrom('group_data_keys')
        .select(['version', 'wrapped_key'])
        .where('group_id', '=', groupBin)
        .where('version', '=', version)
        .executeTakeFirst()
      return row ?? null
    },

    /** Inserts a version unless it exists already; true when this call inserted it. */
    async insertIfAbsent (groupBin: Buffer, version: number, wrappedKey: Buffer, trx: Executor = db): Promise<boolean> {
      const result = await trx.insertInto('group_data_keys')
        .orIgnore()
        .values({ group_id: groupBin, version, wrapped_key: wrappedKey, created_at: new Date() })
        .executeTakeFirst()
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n
    },

    async listGroupIds (trx: Executor = db): Promise<Buffer[]> {
      const rows = await trx.selectFrom('group_data_keys').select('group_id').distinct().execute()
      return rows.map((r) => r.group_id)
    },

    async deleteGroup (groupBin: Buffer, trx: Executor = db): Promise<number> {
      const result = await trx.deleteFrom('group_data_keys').where('group_id', '=', groupBin).executeTakeFirst()
      return Number(result.numDeletedRows)
    }
  }
}

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
function seal (key: KeyObject, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv()
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), data])
}

function open (key: KeyObject, sealed: Buffer, aad: string, what: string): Buffer {
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

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Group ids are UUIDs; the canonical lowercase form keeps AAD and caches independent of how a
 * client spelled it. Ids read from the database are canonical already (every decryption of a
 * page passes one): a pattern test answers them without a parse and a re-format.
 */
function canonicalGroupId (groupId: string): string {
  return CANONICAL_UUID.test(groupId) ? groupId : fromBin(toBin(groupId))
}

function canonicalRecordId (recordId: string): string {
  return CANONICAL_UUID.test(recordId) ? recordId : UUID.test(recordId) ? recordId.toLowerCase() : recordId
}

/** Creates a keyring over the group_data_keys table. Throws if the master key is not 32 bytes. */
export function createKeyring (options: KeyringOptions): Keyring {
  if (!Buffer.isBuffer(options.masterKey) || options.masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`The encryption master key must be ${MASTER_KEY_BYTES} bytes`)
  }
  const masterKey = createSecretKey(Buffer.from(options.masterKey))
  const repository = groupKeyRepository(options.db)
  const maxGroups = options.maxCachedGroups ?? DEFAULT_MAX_CACHED_GROUPS
  const newestTtlMs = options.newestVersionTtlMs ?? DEFAULT_NEWEST_VERSION_TTL_MS
  const groups = new LRUCache<string, GroupKeys>({ max: maxGroups })
  const indexKeys = new LRUCache<string, KeyObject>({ max: maxGroups })
  /** Tokens of recently seen (group, word) pairs: chat words repeat, and an HMAC costs more than a lookup. */
  // Keyed by group, then word: a lookup hashes the word alone, not a group-and-word string.
  const recentTokens = new LRUCache<string, LRUCache<string, Buffer>>({ max: RECENT_TOKEN_GROUPS })
  /** One load per group (or group and version) at a time, however many requests wait for it. */
  const loading = new Map<string, Promise<{ version: number, key: KeyObject }>>()
  const openedCacheBytes = options.openedCacheBytes ?? DEFAULT_OPENED_CACHE_BYTES
  /** Keyed by the record's AAD; see DEFAULT_OPENED_CACHE_BYTES. */
  const opened = openedCacheBytes > 0
    ? new LRUCache<string, OpenedRecord>({
      maxSize: openedCacheBytes,
      sizeCalculation: (entry, aad) => entry.ciphertext.length + 2 * (entry.text.length + aad.length) + OPENED_ENTRY_OVERHEAD_BYTES
    })
    : null

  function cached (groupId: string): GroupKeys {
    let entry = groups.get(groupId)
    if (entry === undefined) {
      entry = { versions: new Map(), newest: null, newestCheckedAt: 0 }
      groups.set(groupId, entry)
    }
    return entry
  }

  function remember (groupId: string, version: number, key: KeyObject, newest: boolean): void {
    const entry = cached(groupId)
    entry.versions.set(version, key)
    if (newest && (entry.newest === null || version >= entry.newest)) {
      entry.newest = version
      entry.newestCheckedAt = Date.now()
    }
  }

  function unwrap (groupId: string, row: KeyRow): KeyObject {
    return createSecretKey(open(masterKey, row.wrapped_key, dataKeyAad(groupId, row.version), `the data key v${row.version} of group ${groupId}`))
  }

  function once (key: string, load: () => Promise<{ version: number, key: KeyObject }>): Promise<{ version: number, key: KeyObject }> {
    const pending = loading.get(key)
    if (pending !== undefined) return pending
    const promise = load().finally(() => loading.delete(key))
    loading.set(key, promise)
    return promise
  }

  /** The newest key, from the cache while fresh; otherwise read, creating version 1 if the group has none. */
  async function newestKey (groupId: string): Promise<{ version: number, key: KeyObject }> {
    const entry = groups.get(groupId)
    if (entry !== undefined && entry.newest !== null && Date.now() - entry.newestCheckedAt < newestTtlMs) {
      const key = entry.versions.get(entry.newest)
      if (key !== undefined) return { version: entry.newest, key }
    }
    return await once(`newest:${groupId}`, async () => {
      const groupBin = toBin(groupId)
      let row = await repository.findNewest(groupBin)
      if (row === null) {
        // Race-safe lazy creation: of concurrent creators (on any instance) exactly one insert
        // wins; everyone then reads back the same row.
        await repository.insertIfAbsent(groupBin, 1, seal(masterKey, randomBytes(DATA_KEY_BYTES), dataKeyAad(groupId, 1)))
        row = await repository.findNewest(groupBin)
        if (row === null) throw new Error(`The data key of group ${groupId} vanished while it was being created`)
      }
      const key = groups.get(groupId)?.versions.get(row.version) ?? unwrap(groupId, row)
      remember(groupId, row.version, key, true)
      return { version: row.version, key }
    })
  }

  async function keyOfVersion (groupId: string, version: number): Promise<KeyObject> {
    const known = groups.get(groupId)?.versions.get(version)
    if (known !== undefined) return known
    const { key } = await once(`v${version}:${groupId}`, async () => {
      const row = await repository.findVersion(toBin(groupId), version)
      if (row === null) throw new DecryptionError(`Cannot decrypt: group ${groupId} has no data key v${version}`)
      const key = unwrap(groupId, row)
      remember(groupId, version, key, false)
      return { version, key }
    })
    return key
  }

  async function rotate (groupId: string): Promise<number> {
    const id = canonicalGroupId(groupId)
    const groupBin = toBin(id)
    // The version is part of the wrapped key's AAD, so it is chosen before the insert; a
    // concurrent rotation taking the same number makes the insert a no-op and we try the next.
    for (let attempt = 0; attempt < MAX_ROTATE_ATTEMPTS; attempt++) {
      const newest = await repository.findNewest(groupBin)
      // Unwrapping the current key first proves this is the master key the group's keys were
      // made with: a wrong one (say, a script run with other secrets) must not add a version
      // that no server could unwrap.
      if (newest !== null) remember(id, newest.version, unwrap(id, newest), false)
      const version = (newest?.version ?? 0) + 1
      const key = randomBytes(DATA_KEY_BYTES)
      if (await repository.insertIfAbsent(groupBin, version, seal(masterKey, key, dataKeyAad(id, version)))) {
        remember(id, version, createSecretKey(key), true)
        return version
      }
    }
    throw new Error(`Could not rotate the data key of group ${id}: too many concurrent rotations`)
  }

  /** Opens one record of a group whose key is at hand (`id` canonical), through the cache of opened records. */
  function openRecord (id: string, key: KeyObject, sealed: Sealed, context: SealContext): string {
    const recordId = canonicalRecordId(context.recordId)
    const aad = recordAad(id, recordId, sealed.keyVersion, context.field)
    const known = opened?.get(aad)
    if (known !== undefined && known.ciphertext.equals(sealed.ciphertext)) return known.text
    const text = open(key, sealed.ciphertext, aad, `${context.field} of record ${recordId}`).toString('utf8')
    opened?.set(aad, { ciphertext: Buffer.from(sealed.ciphertext), text })
    return text
  }

  function checkVersion (keyVersion: number): void {
    if (!Number.isInteger(keyVersion) || keyVersion < 1) {
      throw new DecryptionError(`Cannot decrypt: invalid key version ${String(keyVersion)}`)
    }
  }

  /**
   * The group's index key: HKDF-SHA256 of the master key with the group id and a purpose label.
   * Derived, never stored, and deliberately not rotated with the data keys: a new index key
   * would change every token, so all the group's messages would have to be reindexed.
   */
  function indexKey (groupId: string): KeyObject {
    let key = indexKeys.get(groupId)
    if (key === undefined) {
      key = createSecretKey(Buffer.from(hkdfSync('sha256', masterKey, Buffer.from('parley:search-index:v1', 'utf8'), Buffer.from(`group|${groupId}`, 'utf8'), 32)))
      indexKeys.set(groupId, key)
    }
    return key
  }

  function recentTokensOf (groupId: string): LRUCache<string, Buffer> {
    let cache = recentTokens.get(groupId)
    if (cache === undefined) {
      cache = new LRUCache<string, Buffer>({ max: RECENT_TOKENS_PER_GROUP })
      recentTokens.set(groupId, cache)
    }
    return cache
  }

  function tokens (groupId: string, text: string): Buffer[] {
    const terms = searchTerms(text)
    if (terms.length === 0) return []
    const id = canonicalGroupId(groupId)
    const key = indexKey(id)
    const cache = recentTokensOf(id)
    return terms.map((term) => {
      let token = cache.get(term)
      if (token === undefined) {
        token = createHmac('sha256', key).update(term, 'utf8').digest().subarray(0, INDEX_TOKEN_BYTES)
        cache.set(term, token)
      }
      return token
    })
  }

  return {
    async encrypt (groupId, plaintext, context) {
      const id = canonicalGroupId(groupId)
      const { version, key } = await newestKey(id)
      const aad = recordAad(id, canonicalRecordId(context.recordId), version, context.field)
      return { ciphertext: seal(key, Buffer.from(plaintext, 'utf8'), aad), keyVersion: version }
    },

    async decrypt (groupId, sealed, context) {
      const id = canonicalGroupId(groupId)
      checkVersion(sealed.keyVersion)
      return openRecord(id, await keyOfVersion(id, sealed.keyVersion), sealed, context)
    },

    async decryptAll (groupId, records) {
      const id = canonicalGroupId(groupId)
      const keys = new Map<number, KeyObject>()
      for (const { sealed } of records) {
        if (keys.has(sealed.keyVersion)) continue
        checkVersion(sealed.keyVersion)
        keys.set(sealed.keyVersion, await keyOfVersion(id, sealed.keyVersion))
      }
      return records.map(({ sealed, context }) => openRecord(id, keys.get(sealed.keyVersion) as KeyObject, sealed, context))
    },

    rotate,

    async rotateAll () {
      const groupIds = await repository.listGroupIds()
      for (const groupBin of groupIds) await rotate(fromBin(groupBin))
      return groupIds.length
    },

    indexTokens: tokens,
    queryTokens: tokens,

    async destroyGroupKeys (groupId) {
      const id = canonicalGroupId(groupId)
      const removed = await repository.deleteGroup(toBin(id))
      groups.delete(id)
      if (opened !== null) {
        const prefix = `${id}|`
        for (const aad of [...opened.keys()]) if (aad.startsWith(prefix)) opened.delete(aad)
      }
      return removed
    },

    async dataKey (groupId) {
      return await newestKey(canonicalGroupId(groupId))
    },

    async dataKeyOfVersion (groupId, version) {
      if (!Number.isInteger(version) || version < 1) throw new DecryptionError(`Cannot decrypt: invalid key version ${String(version)}`)
      return await keyOfVersion(canonicalGroupId(groupId), version)
    }
  }
}
