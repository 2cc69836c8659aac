import type { ChatMessage, DeleteMessageResponse, EditMessageRequest } from '../../../schemas/chat.ts'
import type { MessageEditedEvent } from '../../../schemas/events.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import { DecryptionError } from '../../lib/keyring.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import { hasRole, type Caller } from '../membership/guard.ts'
import { checkContent, groupIdOf, messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { getMessage } from './history.ts'
import { checkMetadata, isEmptyMetadata, metadataForEditedContent } from './metadata-validation.ts'
import { findVisibleOrThrow, open, present } from './present.ts'
import type { MessageView } from './repository.ts'

/*
 * Changing what was said: edits (the replaced version kept sealed in the edit history, see
 * edit-history.ts) and soft deletes, by the sender, a group admin or a system administrator.
 */

const EDIT_ATTEMPTS = 3

/** Edits the caller's own message, keeping the previous version sealed in the edit history. */
export async function editMessage (deps: ChatDeps, caller: Caller, messageId: string, input: EditMessageRequest): Promise<ChatMessage> {
  const { repo, keyring } = deps
  const groupId = groupIdOf(caller)
  const groupBin = caller.membership.groupIdBin
  const content = checkContent(input.content)
  for (let attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
    const row = await findVisibleOrThrow(deps, caller, messageId)
    if (row.is_deleted) throw notFound('Message')
    if (row.sender_user_id !== caller.user.id) throw forbidden('You can only edit your own messages')
    const id = fromBin(row.id)
    const old = await open(deps, row)
    const metadata = input.metadata !== undefined ? checkMetadata(content, input.metadata) : metadataForEditedContent(old.metadata, content)
    const version = row.edit_count + 1
    const [oldContent, oldMetadata, newContent, newMetadata] = await Promise.all([
      keyring.encrypt(groupId, old.content, { recordId: id, field: `edit:${version}` }),
      isEmptyMetadata(old.metadata) ? Promise.resolve(null) : keyring.encrypt(groupId, JSON.stringify(old.metadata), { recordId: id, field: `edit-metadata:${version}` }),
      keyring.encrypt(groupId, content, { recordId: id, field: 'content' }),
      isEmptyMetadata(metadata) ? Promise.resolve(null) : keyring.encrypt(groupId, JSON.stringify(metadata), { recordId: id, field: 'metadata' })
    ])
    const tokens = keyring.indexTokens(groupId, content)
    const now = new Date()
    const replaced = await deps.db.transaction().execute(async (trx) => {
      // Only if nobody edited or deleted it since it was read; otherwise the loop reads it again.
      const changed = await repo.replaceContent(groupBin, row.id, row.edit_count, {
        content: newContent.ciphertext,
        content_key_version: newContent.keyVersion,
        metadata: newMetadata?.ciphertext ?? null,
        metadata_key_version: newMetadata?.keyVersion ?? null
      }, now, trx)
      if (!changed) return false
      await repo.insertEdit({
        message_id: row.id,
        version,
        content: oldContent.ciphertext,
        content_key_version: oldContent.keyVersion,
        metadata: oldMetadata?.ciphertext ?? null,
        metadata_key_version: oldMetadata?.keyVersion ?? null,
        written_at: row.edited_at ?? row.created_at,
        replaced_at: now,
        replaced_by: caller.user.id
      }, trx)
      await repo.deleteSearchTokens(groupBin, row.id, keyring.indexTokens(groupId, old.content), trx)
      await repo.insertSearchTokens(groupBin, row.id, tokens, trx)
      return true
    })
    if (!replaced) continue
    const payload: MessageEditedEvent['payload'] = { messageId: id, groupId, editedAt: now.toISOString(), senderUserId: row.sender_user_id }
    if (deps.config.broadcastContent) payload.content = content
    deps.bus.publish({ groupId }, { type: 'chat:message_edited', payload })
    return await getMessage(deps, caller, id)
  }
  throw new AppError('CONFLICT', 'The message changed while it was being edited; try again')
}

/** Soft-deletes a stored message and tells its group (once: a concurrent delete finds nothing to do). */
async function softDelete (deps: ChatDeps, row: MessageView, deletedBy: number): Promise<void> {
  const groupId = fromBin(row.group_id)
  const groupBin = row.group_id
  // A record that no longer decrypts can still be deleted; its tokens cannot be recomputed,
  // and search never returns a deleted message anyway.
  const content = await open(deps, row).then((opened) => opened.content, (err: unknown) => {
    if (err instanceof DecryptionError) return ''
    throw err
  })
  const deleted = await deps.db.transaction().execute(async (trx) => {
    // The sealed content stays in the row for compliance; it is never served again and
    // no longer searchable.
    if (!await deps.repo.softDelete(groupBin, row.id, deletedBy, new Date(), trx)) return false
    await deps.repo.deleteSearchTokens(groupBin, row.id, deps.keyring.indexTokens(groupId, content), trx)
    await deps.repo.deletePin(groupBin, row.id, trx)
    return true
  })
  if (deleted) deps.bus.publish({ groupId }, { type: 'chat:message_deleted', payload: { messageId: fromBin(row.id), groupId, deletedBy } })
}

/** Soft-deletes a message (its sender, or a group admin or the owner); idempotent. */
export async function deleteMessage (deps: ChatDeps, caller: Caller, messageId: string): Promise<DeleteMessageResponse> {
  const row = await findVisibleOrThrow(deps, caller, messageId)
  const id = fromBin(row.id)
  if (row.sender_user_id !== caller.user.id && !hasRole(caller.membership.role, 'admin')) {
    throw forbidden('Only the sender or a group admin can delete this message')
  }
  if (!row.is_deleted) await softDelete(deps, row, caller.user.id)
  return { deleted: true, messageId: id }
}

/** A message as a system administrator reviewing a report sees it, member or not; null when it does not exist. */
export async function messageForModeration (deps: ChatDeps, groupId: string, messageId: string): Promise<ChatMessage | null> {
  const row = await deps.repo.findInGroup(toBin(groupId), messageBinOf(messageId))
  if (row === null) return null
  const [message] = await present(deps, [row], 0, { reactions: false, readBy: false })
  return message ?? null
}

/** Soft-deletes a message on a system administrator's decision, as deleteMessage does; idempotent. */
export async function deleteForModeration (deps: ChatDeps, groupId: string, messageId: string, moderatorId: number): Promise<DeleteMessageResponse> {
  const row = await deps.repo.findInGroup(toBin(groupId), messageBinOf(messageId))
  if (row === null) throw notFound('Message')
  if (!row.is_deleted) await softDelete(deps, row, moderatorId)
  return { deleted: true, messageId: fromBin(row.id) }
}
