import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { searchTerms } from '../search-tokens.ts'
import { canonicalGroupId } from './sealing.ts'
import type { KeyringState } from './state.ts'

/* The blind search index: tokens are HMACs of a message's words under a per-group index key. */

export const INDEX_TOKEN_BYTES = 16
/** Groups whose recent word tokens are kept, and words kept per group: ~50,000 pairs, ~10 MiB. */
const RECENT_TOKEN_GROUPS = 200
const RECENT_TOKENS_PER_GROUP = 256

/** Tokens of recently seen (group, word) pairs: chat words repeat, and an HMAC costs more than a lookup. */
export function createRecentTokens (): LRUCache<string, LRUCache<string, Buffer>> {
  // Keyed by group, then word: a lookup hashes the word alone, not a group-and-word string.
  return new LRUCache<string, LRUCache<string, Buffer>>({ max: RECENT_TOKEN_GROUPS })
}

/**
 * The group's index key: HKDF-SHA256 of the master key with the group id and a purpose label.
 * Derived, never stored, and deliberately not rotated with the data keys: a new index key
 * would change every token, so all the group's messages would have to be reindexed.
 */
function indexKey (state: KeyringState, groupId: string): KeyObject {
  let key = state.indexKeys.get(groupId)
  if (key === undefined) {
    key = createSecretKey(Buffer.from(hkdfSync('sha256', state.masterKey, Buffer.from('parley:search-index:v1', 'utf8'), Buffer.from(`group|${groupId}`, 'utf8'), 32)))
    state.indexKeys.set(groupId, key)
  }
  return key
}

function recentTokensOf (state: KeyringState, groupId: string): LRUCache<string, Buffer> {
  let cache = state.recentTokens.get(groupId)
  if (cache === undefined) {
    cache = new LRUCache<string, Buffer>({ max: RECENT_TOKENS_PER_GROUP })
    state.recentTokens.set(groupId, cache)
  }
  return cache
}

/** Deduplicated 16-byte tokens of the text's searchable words; empty when it has none. */
export function tokens (state: KeyringState, groupId: string, text: string): Buffer[] {
  const terms = searchTerms(text)
  if (terms.length === 0) return []
  const id = canonicalGroupId(groupId)
  const key = indexKey(state, id)
  const cache = recentTokensOf(state, id)
  return terms.map((term) => {
    let token = cache.get(term)
    if (token === undefined) {
      token = createHmac('sha256', key).update(term, 'utf8').digest().subarray(0, INDEX_TOKEN_BYTES)
      cache.set(term, token)
    }
    return token
  })
}
