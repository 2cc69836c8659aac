import type { ChatMessage, MessageMetadata, ReactionSummary } from '../../../schemas/chat.ts'
import type { ChatMessageEvent } from '../../../schemas/events.ts'
import { fromBin } from '../../lib/ids.ts'
import type { MessageView, ReactionRow } from './repository.ts'

/** What decryption gives back for a message: empty for a deleted one, which is never served. */
export interface OpenedMessage {
  content: string
  metadata: MessageMetadata
}

export const DELETED: OpenedMessage = { content: '', metadata: {} }

const iso = (date: Date | null): string | null => date === null ? null : date.toISOString()
const idOrNull = (bin: Buffer | null): string | null => bin === null ? null : fromBin(bin)

/** The name of a data key version as ChatMessage.encryptionKeyId shows it. */
export const keyIdOf = (version: number): string => `v${version}`

/**
 * A stored message (already opened) as the API shows it; reactions and readBy are added by the
 * caller when asked for. A caller that has the ids as strings already passes them.
 */
export function toChatMessage (row: MessageView, opened: OpenedMessage, id = fromBin(row.id), groupId = fromBin(row.group_id)): ChatMessage {
  return {
    id,
    groupId,
    senderUserId: row.sender_user_id,
    senderUsername: row.sender_username ?? '',
    content: row.is_deleted ? '' : opened.content,
    contentType: row.content_type,
    parentMessageId: idOrNull(row.parent_message_id),
    threadRootId: idOrNull(row.thread_root_id),
    threadReplyCount: row.thread_reply_count,
    metadata: row.is_deleted ? {} : opened.metadata,
    status: row.status,
    isEdited: row.is_edited,
    editedAt: iso(row.edited_at),
    isDeleted: row.is_deleted,
    deletedAt: iso(row.deleted_at),
    encryptionKeyId: keyIdOf(row.content_key_version),
    clientMessageId: row.client_message_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    attachments: [],
    seq: row.seq,
    forwardedCount: row.forwarded_count
  }
}

/**
 * Reaction rows (in the order they were added) as per-emoji summaries relative to `viewerId`,
 * grouped by message id.
 */
export function summarizeReactions (rows: ReactionRow[], viewerId: number): Map<string, Array<Required<ReactionSummary>>> {
  const byMessage = new Map<string, Map<string, Required<ReactionSummary>>>()
  for (const row of rows) {
    const messageId = fromBin(row.message_id)
    let emojis = byMessage.get(messageId)
    if (emojis === undefined) {
      emojis = new Map()
      byMessage.set(messageId, emojis)
    }
    let summary = emojis.get(row.emoji)
    if (summary === undefined) {
      summary = { emoji: row.emoji, count: 0, users: [], hasReacted: false }
      emojis.set(row.emoji, summary)
    }
    summary.count += 1
    summary.users.push(row.user_id)
    if (row.user_id === viewerId) summary.hasReacted = true
  }
  const result = new Map<string, Array<Required<ReactionSummary>>>()
  for (const [messageId, emojis] of byMessage) result.set(messageId, [...emojis.values()])
  return result
}

/** The message as a reader who cleared the message it quotes is shown it: without the reply preview. */
export function withoutReplyPreview (message: ChatMessage): ChatMessage {
  if (message.metadata?.replyPreview === undefined) return message
  const { replyPreview: _cleared, ...metadata } = message.metadata
  return { ...message, metadata }
}

/** The chat:message event of a message (seed 01 §5.5.1 + seq); content only when the deployment broadcasts it. */
export function toMessageEvent (message: ChatMessage, seq: number, broadcastContent: boolean): ChatMessageEvent {
  const payload: ChatMessageEvent['payload'] = {
    id: message.id,
    groupId: message.groupId,
    senderUserId: message.senderUserId,
    senderUsername: message.senderUsername ?? '',
    contentType: message.contentType,
    parentMessageId: message.parentMessageId ?? null,
    threadRootId: message.threadRootId ?? null,
    metadata: message.metadata ?? {},
    status: message.status,
    clientMessageId: message.clientMessageId ?? null,
    createdAt: typeof message.createdAt === 'string' ? message.createdAt : message.createdAt.toISOString(),
    encryptedContent: true,
    seq,
    isDeleted: message.isDeleted
  }
  if (broadcastContent) payload.content = message.content
  // Only when there are some: the common message stays as small on this hot path as before.
  if (message.attachments !== undefined && message.attachments.length > 0) payload.attachments = message.attachments
  return { type: 'chat:message', payload }
}
