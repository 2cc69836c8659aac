import { CHAT_LIMITS, type SearchMessagesRequest, type SearchMessagesResponse } from '../../../schemas/chat.ts'
import { invalid } from '../../lib/app-error.ts'
import { groupIdOf, lengthWithin } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { present } from './present.ts'
import { searchFiltersOf } from './search-filters.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Search within one group, through the blind index (the keyring tokenizes the query as it
 * tokenized the messages). Search across the caller's groups is cross-search.ts.
 */

/** Searches the group's live messages through the blind index; every query word and filter must match, blocked senders left out. */
export async function searchMessages (deps: ChatDeps, caller: Caller, query: SearchMessagesRequest): Promise<SearchMessagesResponse> {
  const q = query.q
  if (typeof q !== 'string' || !lengthWithin(q, CHAT_LIMITS.searchQueryMinLength, CHAT_LIMITS.searchQueryMaxLength)) {
    throw invalid('q', `q must be ${CHAT_LIMITS.searchQueryMinLength}-${CHAT_LIMITS.searchQueryMaxLength} characters`)
  }
  const limit = Math.min(Math.max(query.limit ?? CHAT_LIMITS.searchDefaultLimit, 1), CHAT_LIMITS.searchMaxLimit)
  const offset = Math.min(Math.max(query.offset ?? 0, 0), CHAT_LIMITS.searchMaxOffset)
  const filters = searchFiltersOf(query)
  const tokens = deps.keyring.queryTokens(groupIdOf(caller), q)
  if (tokens.length === 0) return { messages: [], query: q, count: 0 }
  const { rows, total } = await deps.repo.search(caller.membership.groupIdBin, caller.user.id, tokens, filters, limit, offset)
  const messages = await present(deps, rows, caller.user.id, { reactions: false, readBy: false })
  return { messages, query: q, count: total }
}
