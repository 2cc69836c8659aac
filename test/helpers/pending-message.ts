import { newId, toBin } from '../../src/lib/ids.ts'
import type { PendingMessage } from '../../src/modules/chat/send-batcher.ts'

/**
 * A message as the send batcher takes it: sealing is the service's job, and the batcher stores
 * any bytes, so `content` is plain bytes here.
 */
export function pendingMessage (groupId: string, senderId: number, options: { content?: string, clientMessageId?: string | null } = {}): PendingMessage {
  const now = new Date()
  return {
    row: {
      id: toBin(newId()),
      group_id: toBin(groupId),
      sender_user_id: senderId,
      content: Buffer.from(options.content ?? 'sealed elsewhere'),
      content_key_version: 1,
      metadata: null,
      metadata_key_version: null,
      content_type: 'text',
      parent_message_id: null,
      thread_root_id: null,
      client_message_id: options.clientMessageId ?? null,
      created_at: now,
      updated_at: now
    },
    tokens: [],
    mentions: [],
    threadRootBin: null,
    adminOnly: null
  }
}
