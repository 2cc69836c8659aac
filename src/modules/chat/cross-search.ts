import { CHAT_LIMITS, type ChatMessage, type CrossGroupSearchRequest, type CrossGroupSearchResponse } from '../../../schemas/chat.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { invalid } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { ChatDeps } from './deps.ts'
import { present } from './present.ts'
import type { MessageView } from './repository.ts'
import { searchFiltersOf } from './search-filters.ts'

/*
 * Search across the caller's groups (issue 11 point 8). The blind index is keyed per group, so
 * the query is tokenized once per group; to keep that and the query bounded, only the caller's
 * CHAT_LIMITS.crossSearchMaxGroups most recently active groups are searched. Each group's clear
 * watermark and the caller's blocks apply as in a group search. Pages run newest first by
 * message id (UUIDv7: time ordered across groups) with a cursor, so no total is counted.
 */

function cursorOf (cursor: string | undefined): Buffer | null {
  if (cursor === undefined) return null
  try {
    return toBin(cursor)
  } catch {
    throw invalid('cursor', 'cursor must be the nextCursor of a previous page')
  }
}

/** Rows of several groups as the API shows them, in the order given. */
async function presentAcross (deps: ChatDeps, rows: MessageView[], viewerId: number): Promise<ChatMessage[]> {
  const byGroup = new Map<string, MessageView[]>()
  for (const row of rows) {
    const key = fromBin(row.group_id)
    byGroup.set(key, [...(byGroup.get(key) ?? []), row])
  }
  const shown = new Map<string, ChatMessage>()
  await Promise.all([...byGroup.values()].map(async (groupRows) => {
    for (const message of await present(deps, groupRows, viewerId, { reactions: false, readBy: false })) shown.set(message.id, message)
  }))
  return rows.map((row) => shown.get(fromBin(row.id))).filter((m): m is ChatMessage => m !== undefined)
}

/** Messages of the caller's most recently active groups matching every word and filter, newest first. */
export async function searchAcrossGroups (deps: ChatDeps, user: AuthUser, query: CrossGroupSearchRequest): Promise<CrossGroupSearchResponse> {
  const q = query.q
  if (typeof q !== 'string' || q.length < CHAT_LIMITS.searchQueryMinLength || [...q].length > CHAT_LIMITS.searchQueryMaxLength) {
    throw invalid('q', `q must be ${CHAT_LIMITS.searchQueryMinLength}-${CHAT_LIMITS.searchQueryMaxLength} characters`)
  }
  const limit = Math.min(Math.max(query.limit ?? CHAT_LIMITS.searchDefaultLimit, 1), CHAT_LIMITS.searchMaxLimit)
  const filters = searchFiltersOf(query)
  const before = cursorOf(query.cursor)
  const groups = await deps.repo.recentGroupsOf(user.id, CHAT_LIMITS.crossSearchMaxGroups)
  const queries = groups.map((groupBin) => ({ groupBin, tokens: deps.keyring.queryTokens(fromBin(groupBin), q) }))
  const tokenCount = queries[0]?.tokens.length ?? 0
  const empty: CrossGroupSearchResponse = { messages: [], query: q, count: 0, hasMore: false, nextCursor: null, groupsSearched: groups.length }
  if (tokenCount === 0) return empty
  const rows = await deps.repo.searchAcross(user.id, queries, tokenCount, filters, before, limit)
  const page = rows.slice(0, limit)
  const hasMore = rows.length > limit
  const messages = await presentAcross(deps, page, user.id)
  const last = page[page.length - 1]
  return { messages, query: q, count: messages.length, hasMore, nextCursor: hasMore && last !== undefined ? fromBin(last.id) : null, groupsSearched: groups.length }
}
