import type { ChatListItem, Group, GroupMember } from '../../../schemas/groups.ts'
import { AppError, notFound } from '../../lib/app-error.ts'
import { groupIdBinOf } from '../membership/ids.ts'
import { fromBin } from '../../lib/ids.ts'
import { toUserProfile } from '../users/service.ts'
import type { ChatSummary } from '../chat/service.ts'
import type { ChatListPosition, GroupViewRow, MemberWithUserRow } from './repository.ts'

/*
 * Ids, caps and the shapes the groups area answers with: pure functions of rows.
 */

export { canonicalGroupId, groupIdBinOf } from '../membership/ids.ts'

export function requireGroupIdBin (groupId: string): Buffer {
  const bin = groupIdBinOf(groupId)
  if (bin === null) throw notFound('Group')
  return bin
}

/** "minId:maxId": the unique key of two users' direct chat. */
export const directKeyOf = (a: number, b: number): string => `${Math.min(a, b)}:${Math.max(a, b)}`

function peerOf (directKey: string | null, userId: number): number | null {
  if (directKey === null) return null
  const [a, b] = directKey.split(':').map(Number)
  if (a === undefined || b === undefined) return null
  return a === userId ? b : a
}

/** A group's member cap: its own, never above the server's limit for its type. */
export const capOf = (maxMembers: number | null, limit: number): number => Math.min(maxMembers ?? limit, limit)

export function toGroup (row: GroupViewRow, userId: number, limit: number): Group {
  return {
    id: fromBin(row.id),
    name: row.name,
    description: row.description,
    type: row.type,
    avatarUrl: row.avatar_url,
    createdBy: row.created_by,
    memberCount: Number(row.member_count ?? 0),
    myRole: row.role,
    peerUserId: peerOf(row.direct_key, userId),
    maxMembers: capOf(row.max_members, limit),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

/**
 * The one mapping of a chat-list row. `summary` comes from the messages area in one batched
 * lookup per page: the newest message visible to the user (after cleared_seq) and the unread
 * count derived from the read and clear watermarks.
 */
export function toChatListItem (row: GroupViewRow, userId: number, summary: ChatSummary | undefined, limit: number): ChatListItem {
  return {
    ...toGroup(row, userId, limit),
    // showPreviews off: the chat list names the last message but quotes none of it.
    lastMessage: summary?.lastMessage == null ? null : row.show_previews ? summary.lastMessage : { ...summary.lastMessage, preview: null },
    unreadCount: summary?.unreadCount ?? 0,
    archived: Number(row.archived_now) === 1,
    pinned: row.pinned,
    mutedUntil: row.muted_until === null ? null : row.muted_until.toISOString()
  }
}

export function toGroupMember (row: MemberWithUserRow): GroupMember {
  return { userId: row.user_id, role: row.role, joinedAt: row.joined_at.toISOString(), user: toUserProfile(row) }
}

/** The opaque chat-list cursor: the last row's position, base64url("<pinned 0|1>:<ms>:<uuid>"). */
export function encodeCursor (row: GroupViewRow): string {
  return Buffer.from(`${row.pinned ? 1 : 0}:${row.last_activity_at.getTime()}:${fromBin(row.id)}`).toString('base64url')
}

/** Reads a cursor; one without the pinned part (an older server's) was among unpinned chats. */
export function decodeCursor (cursor: string): ChatListPosition {
  const match = /^(?:([01]):)?(\d{1,15}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  const id = match?.[3] === undefined ? null : groupIdBinOf(match[3])
  if (match?.[2] === undefined || id === null) {
    throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'cursor', message: 'cursor is not one this API returned' }])
  }
  return { pinned: match[1] === '1', activityAt: new Date(Number(match[2])), id }
}
