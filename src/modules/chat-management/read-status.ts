import type {
  BulkReadStatusResponse, ReadStatusRequest, ReadStatusResponse, SingleUnreadCountResponse, UnreadCountsResponse
} from '../../../schemas/chat-management.ts'
import { AppError, notFound } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { Caller } from '../membership/guard.ts'
import type { ChatManagementDeps } from './deps.ts'
import type { UnreadRow } from './repository.ts'

const idOrNull = (bin: Buffer | null): string | null => bin === null ? null : fromBin(bin)

/**
 * Marks the chat read or unread for the caller (seed 05 §4). Read: up to lastReadMessageId, or
 * the whole chat, never backwards, announced as a read receipt (chat:message_read) and to the
 * caller's devices (chat:unread_count) by the same path as POST …/chat/read. Unread: the chat
 * counts at least 1 until read again.
 */
export async function setReadStatus (deps: ChatManagementDeps, caller: Caller, request: ReadStatusRequest): Promise<ReadStatusResponse> {
  const groupBin = caller.membership.groupIdBin
  const groupId = fromBin(groupBin)
  const userId = caller.user.id
  if (request.isRead) {
    const target = request.lastReadMessageId ?? idOrNull((await deps.repo.newest(groupBin))?.id ?? null)
    if (target !== null) {
      await deps.chat.markRead(caller, target)
    } else if (await deps.chat.unreadCount(caller).then((c) => c.unreadCount > 0)) {
      // A chat without messages can only be "unread" by hand: reading it ends that.
      await deps.repo.clearMarkedUnread(groupBin, userId)
      deps.bus.publish({ userId }, { type: 'chat:unread_count', payload: { groupId, unreadCount: 0 } })
    }
  } else {
    await deps.repo.markUnread(groupBin, userId)
    const { unreadCount } = await deps.chat.unreadCount(caller)
    deps.bus.publish({ userId }, { type: 'chat:unread_count', payload: { groupId, unreadCount } })
  }
  const state = await deps.repo.chatState(groupBin, userId)
  if (state === null) throw notFound('Group')
  return {
    groupId,
    unreadCount: Number(state.unread ?? 0),
    lastReadMessageId: idOrNull(state.last_read_id),
    readAt: state.last_read_at === null ? null : state.last_read_at.toISOString()
  }
}

/** Marks several of the user's chats read or unread; all of them must be theirs (404 otherwise, nothing changed). */
export async function setReadStatusOfMany (deps: ChatManagementDeps, user: AuthUser, groupIds: string[], isRead: boolean): Promise<BulkReadStatusResponse> {
  const unique = [...new Set(groupIds.map((id) => id.toLowerCase()))]
  const mine = new Set((await deps.repo.memberGroupsAmong(user.id, unique.map((id) => toBin(id)))).map((bin) => fromBin(bin)))
  const missing = unique.filter((id) => !mine.has(id))
  if (missing.length > 0) throw new AppError('NOT_FOUND', 'Group not found', { groupIds: missing })
  const groups: ReadStatusResponse[] = []
  // One chat at a time: a bounded list, and each mark is a few indexed statements.
  for (const groupId of unique) {
    const membership = await deps.membership.getMembership(groupId, user.id)
    if (membership === null) throw new AppError('NOT_FOUND', 'Group not found', { groupIds: [groupId] })
    groups.push(await setReadStatus(deps, { user, membership }, { isRead }))
  }
  return { groups }
}

const countOf = (row: UnreadRow): number => Number(row.unread ?? 0)

/**
 * The user's unread counts (seed 05 §4): the total and each chat with unread messages, most
 * recent first, in one query; deleted direct chats are left out, muted ones too on request.
 */
export async function unreadCounts (deps: ChatManagementDeps, userId: number, excludeMuted: boolean): Promise<UnreadCountsResponse> {
  const rows = await deps.repo.unreadCounts(userId, excludeMuted ? { excludeMutedAt: new Date(deps.clock.now()) } : {})
  const unread = rows.filter((row) => countOf(row) > 0)
    .sort((a, b) => (b.last_at?.getTime() ?? 0) - (a.last_at?.getTime() ?? 0))
  return {
    totalUnread: unread.reduce((sum, row) => sum + countOf(row), 0),
    groups: unread.map((row) => ({
      groupId: fromBin(row.group_id),
      unreadCount: countOf(row),
      lastReadMessageId: idOrNull(row.last_read_id),
      lastMessageTimestamp: row.last_at === null ? null : row.last_at.toISOString()
    }))
  }
}

/** One chat's unread count; 404 when the user is not in the group. */
export async function unreadCountOfGroup (deps: ChatManagementDeps, userId: number, groupId: string): Promise<SingleUnreadCountResponse> {
  const [row] = await deps.repo.unreadCounts(userId, { groupBin: toBin(groupId) })
  if (row === undefined) throw notFound('Group')
  return { groupId: fromBin(row.group_id), unreadCount: countOf(row), lastReadMessageId: idOrNull(row.last_read_id) }
}
