import { LRUCache } from 'lru-cache'
import type { KeyringState, OpenedRecord } from './state.ts'

/*
 * Recently opened records, answered again without AES-GCM (see DEFAULT_OPENED_CACHE_BYTES in
 * keyring.ts). Keyed by the record's AAD; an entry answers only the exact ciphertext it was
 * opened from.
 */

/** What an entry costs besides its ciphertext and text: the key string, the object, the LRU's bookkeeping. */
const OPENED_ENTRY_OVERHEAD_BYTES = 200

/** The cache of opened records holding up to `bytes`; null (no cache) for 0. */
export function createOpenedCache (bytes: number): LRUCache<string, OpenedRecord> | null {
  return bytes > 0
    ? new LRUCache<string, OpenedRecord>({
      maxSize: bytes,
      sizeCalculation: (entry, aad) => entry.ciphertext.length + 2 * (entry.text.length + aad.length) + OPENED_ENTRY_OVERHEAD_BYTES
    })
    : null
}

/** Drops every opened record of a group (`id` canonical: every AAD starts with it). */
export function forgetOpenedOfGroup (state: KeyringState, id: string): void {
  const { opened } = state
  if (opened === null) return
  const prefix = `${id}|`
  for (const aad of [...opened.keys()]) if (aad.startsWith(prefix)) opened.delete(aad)
}
