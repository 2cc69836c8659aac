import { fromBin, toBin } from '../../lib/ids.ts'
import type { ChatDeps } from './deps.ts'
import type { ChatSummary, LastMessagePreview } from './service.ts'

/*
 * What the chat list shows of each chat (the groups area composes the list): the newest
 * message the user is shown, previewed, and the unread count.
 */

const PREVIEW_CHARACTERS = 100

/** The first characters of a text, whole code points. */
function previewOf (text: string): string {
  const chars = [...text.slice(0, PREVIEW_CHARACTERS * 2)]
  return chars.length > PREVIEW_CHARACTERS ? chars.slice(0, PREVIEW_CHARACTERS).join('') : chars.join('')
}

/** The chat-list data of the user's groups: newest visible message and unread count. */
export async function chatSummaries (deps: ChatDeps, userId: number, groupIds: string[]): Promise<Map<string, ChatSummary>> {
  const rows = await deps.repo.summaries(userId, groupIds.map((id) => toBin(id)))
  const result = new Map<string, ChatSummary>()
  await Promise.all(rows.map(async (row) => {
    const groupId = fromBin(row.group_id)
    let lastMessage: LastMessagePreview | null = null
    if (row.id !== null && row.seq !== null && row.created_at !== null && row.sender_user_id !== null && row.content_type !== null) {
      let preview: string | null = null
      if (row.is_deleted !== true && row.content !== null && row.content_key_version !== null) {
        const content = await deps.keyring.decrypt(groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: fromBin(row.id), field: 'content' })
        preview = previewOf(content)
      }
      lastMessage = {
        id: fromBin(row.id),
        senderUserId: row.sender_user_id,
        senderUsername: row.sender_username ?? '',
        contentType: row.content_type,
        preview,
        createdAt: row.created_at.toISOString(),
        seq: row.seq
      }
    }
    result.set(groupId, { lastMessage, unreadCount: Number(row.unread ?? 0) })
  }))
  return result
}
