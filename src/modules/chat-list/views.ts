import type { ChatListItem } from '../../../schemas/groups.ts'
import { AppError } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import type { ChatSummary } from '../chat/service.ts'
import type { ChatListPosition, GroupViewRow } from '../groups/repository.ts'
import { toGroup } from '../groups/views.ts'
import { groupBinOf } from '../membership/ids.ts'

/*
 * The chat list's shapes: a row of the groups area with the chat area's summary, and the cursor.
 */

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

/** The opaque chat-list cursor: the last row's position, base64url("<pinned 0|1>:<ms>:<uuid>"). */
export function encodeCursor (row: GroupViewRow): string {
  return Buffer.from(`${row.pinned ? 1 : 0}:${row.last_activity_at.getTime()}:${fromBin(row.id)}`).toString('base64url')
}

/** Reads a cursor; one without the pinned part (an older server's) was among unpinned chats. */
export function decodeCursor (cursor: string): ChatListPosition {
  const match = /^(?:([01]):)?(\d{1,15}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  const id = match?.[3] === undefined ? null : groupBinOf(match[3])
  if (match?.[2] === undefined || id === null) {
    throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'cursor', message: 'cursor is not one this API returned' }])
  }
  return { pinned: match[1] === '1', activityAt: new Date(Number(match[2])), id }
}
