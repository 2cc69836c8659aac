import type { ChatAttachment, ChatMessage, MessageMetadata } from '../../../schemas/chat.ts'
import { notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import { messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { DELETED, summarizeReactions, toChatMessage, type OpenedMessage } from './message-mapper.ts'
import type { MessageView } from './repository.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Stored messages as a caller finds and is shown them: found (visible, or shown), opened
 * (decrypted) and presented with their attachments, reactions, readers and status.
 */

export async function openMetadata (deps: ChatDeps, groupId: string, messageId: string, sealed: Buffer | null, keyVersion: number | null, field: string): Promise<MessageMetadata> {
  if (sealed === null || keyVersion === null) return {}
  return JSON.parse(await deps.keyring.decrypt(groupId, { ciphertext: sealed, keyVersion }, { recordId: messageId, field })) as MessageMetadata
}

/** Decrypts a stored message; a deleted one is never decrypted. */
export async function open (deps: ChatDeps, row: MessageView): Promise<OpenedMessage> {
  if (row.is_deleted) return DELETED
  const groupId = fromBin(row.group_id)
  const messageId = fromBin(row.id)
  const [content, metadata] = await Promise.all([
    deps.keyring.decrypt(groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: messageId, field: 'content' }),
    openMetadata(deps, groupId, messageId, row.metadata, row.metadata_key_version, 'metadata')
  ])
  return { content, metadata }
}

/** The attachments of the live messages among `rows`, by message id (hex). */
export async function attachmentsOf (deps: ChatDeps, rows: MessageView[]): Promise<Map<string, ChatAttachment[]>> {
  const live = rows.filter((row) => !row.is_deleted).map((row) => row.id)
  return live.length === 0 ? new Map() : await deps.attachments.ofMessages(live)
}

/**
 * Stored messages of one group as the API shows them, with reactions and readers when asked
 * for. `status` is `delivered` once another member's delivered watermark reached the message
 * (seed 01 §6.1 MessageStatus), `sent` before.
 */
export async function present (deps: ChatDeps, rows: MessageView[], viewerId: number, include: { reactions: boolean, readBy: boolean }): Promise<ChatMessage[]> {
  if (rows.length === 0) return []
  const repo = deps.repo
  const first = rows[0] as MessageView
  const parents = rows.flatMap((r) => r.parent_message_id === null ? [] : [r.parent_message_id])
  const [opened, reactionRows, watermarks, delivered, files, clearedParents] = await Promise.all([
    Promise.all(rows.map((row) => open(deps, row))),
    include.reactions ? repo.reactionsOf(rows.map((r) => r.id)) : Promise.resolve([]),
    include.readBy ? repo.readWatermarks(first.group_id) : Promise.resolve([]),
    repo.deliveredTops(first.group_id),
    attachmentsOf(deps, rows),
    viewerId > 0 ? repo.clearedAmong(first.group_id, viewerId, parents) : Promise.resolve(new Set<string>())
  ])
  const reactions = include.reactions ? summarizeReactions(reactionRows, viewerId) : null
  return rows.map((row, i) => {
    const message = toChatMessage(row, opened[i] as OpenedMessage)
    message.attachments = files.get(row.id.toString('hex')) ?? []
    // A reply quoting a message cleared for the viewer does not bring its words back.
    if (row.parent_message_id !== null && clearedParents.has(row.parent_message_id.toString('hex')) && message.metadata?.replyPreview !== undefined) {
      const { replyPreview: _cleared, ...rest } = message.metadata
      message.metadata = rest
    }
    const deliveredTo = delivered.find((w) => w.user_id !== row.sender_user_id)
    if (deliveredTo !== undefined && deliveredTo.last_delivered_seq >= row.seq) message.status = 'delivered'
    if (reactions !== null) message.reactions = reactions.get(message.id) ?? []
    if (include.readBy) {
      message.readBy = watermarks
        .filter((w) => w.user_id !== row.sender_user_id && w.last_read_seq >= row.seq)
        .map((w) => w.user_id)
    }
    return message
  })
}

/** A message visible to the caller (not cleared for them, deleted ones included); NOT_FOUND otherwise. */
export async function findVisibleOrThrow (deps: ChatDeps, caller: Caller, messageId: string): Promise<MessageView> {
  const row = await deps.repo.findVisible(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
  if (row === null) throw notFound('Message')
  return row
}

/** A message the caller is shown: visible to them and not from a sender they blocked. */
export async function findShownOrThrow (deps: ChatDeps, caller: Caller, messageId: string): Promise<MessageView> {
  const row = await deps.repo.findShown(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
  if (row === null) throw notFound('Message')
  return row
}
