import type { ChatListQuery, ChatListResponse } from '../../../schemas/groups.ts'
import type { Config } from '../../config.ts'
import { fromBin } from '../../lib/ids.ts'
import type { ChatService } from '../chat/service.ts'
import { memberLimitOf } from '../groups/changes.ts'
import type { GroupRepository } from '../groups/repository.ts'
import { decodeCursor, encodeCursor, toChatListItem } from './views.ts'

/*
 * The chat list composes two areas: the page of the user's groups (groups' tables) and, per
 * group, the newest message and unread count (chat). It lives here, depending on both, so
 * neither area depends on the other for it.
 */

export interface ChatListDeps {
  /** The groups area's page query: pinned chats first, then most recent activity. */
  chatListPage: GroupRepository['chatListPage']
  /** The chat area's part: newest visible message and unread count per chat. */
  chatSummaries: ChatService['chatSummaries']
  limits: Config['groups']
}

/** A page of the user's chat list, most recent activity first (pinned chats before the rest). */
export async function chatList (deps: ChatListDeps, userId: number, query: ChatListQuery): Promise<ChatListResponse> {
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor)
  const rows = await deps.chatListPage(userId, query.archived, after, query.limit + 1)
  const hasMore = rows.length > query.limit
  const page = hasMore ? rows.slice(0, query.limit) : rows
  const last = page.at(-1)
  const summaries = await deps.chatSummaries(userId, page.map((row) => fromBin(row.id)))
  return {
    groups: page.map((row) => toChatListItem(row, userId, summaries.get(fromBin(row.id)), memberLimitOf(deps, row.type))),
    nextCursor: hasMore && last !== undefined ? encodeCursor(last) : null,
    hasMore
  }
}
