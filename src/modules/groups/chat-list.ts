import type { ChatListQuery, ChatListResponse } from '../../../schemas/groups.ts'
import { fromBin } from '../../lib/ids.ts'
import { memberLimitOf, type GroupDeps } from './changes.ts'
import { decodeCursor, encodeCursor, toChatListItem } from './views.ts'

/** A page of the user's chat list, most recent activity first (pinned chats before the rest). */
export async function chatList (deps: GroupDeps, userId: number, query: ChatListQuery): Promise<ChatListResponse> {
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor)
  const rows = await deps.repo.chatListPage(userId, query.archived, after, query.limit + 1)
  const hasMore = rows.length > query.limit
  const page = hasMore ? rows.slice(0, query.limit) : rows
  const last = page.at(-1)
  const summaries = await deps.chat.chatSummaries(userId, page.map((row) => fromBin(row.id)))
  return {
    groups: page.map((row) => toChatListItem(row, userId, summaries.get(fromBin(row.id)), memberLimitOf(deps, row.type))),
    nextCursor: hasMore && last !== undefined ? encodeCursor(last) : null,
    hasMore
  }
}
