import type { KeyObject } from 'node:crypto'
import type { LRUCache } from 'lru-cache'
import type { GroupKeyRepository } from './repository.ts'

export interface GroupKeys {
  /** Unwrapped data keys as KeyObjects: importing raw key bytes on every seal costs more than the AES-GCM itself. */
  versions: Map<number, KeyObject>
  newest: number | null
  newestCheckedAt: number
}

/** A record opened recently: its ciphertext (a copy, not a view of a driver's packet) and text. */
export interface OpenedRecord {
  ciphertext: Buffer
  text: string
}

export interface VersionedKey {
  version: number
  key: KeyObject
}

/**
 * What the keyring's functions work with, built once by createKeyring (keyring.ts): the master
 * key, the table's queries and every in-process cache.
 */
export interface KeyringState {
  masterKey: KeyObject
  repository: GroupKeyRepository
  /** How long the newest key version of a group is trusted before it is re-read. */
  newestTtlMs: number
  /** Unwrapped data keys by group (key-versions.ts). */
  groups: LRUCache<string, GroupKeys>
  /** One load per group (or group and version) at a time, however many requests wait for it. */
  loading: Map<string, Promise<VersionedKey>>
  /** Derived index keys by group (blind-index.ts). */
  indexKeys: LRUCache<string, KeyObject>
  /** Tokens of recently seen (group, word) pairs, keyed by group, then word (blind-index.ts). */
  recentTokens: LRUCache<string, LRUCache<string, Buffer>>
  /** Recently opened records keyed by their AAD (opened-records.ts); null when disabled. */
  opened: LRUCache<string, OpenedRecord> | null
}
