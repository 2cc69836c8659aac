import type { MessageEditHistoryResponse, MessageEditVersion, MessageMetadata } from '../../../schemas/chat.ts'
import { notFound } from '../../lib/app-error.ts'
import type { Keyring } from '../../lib/keyring.ts'
import { fromBin } from '../../lib/ids.ts'
import type { ChatDeps } from './deps.ts'
import { findShownOrThrow } from './present.ts'
import type { SealedEdit } from './repository.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Edit history (issue 11 point 7, seed 04): the versions an edit replaced, sealed under the
 * group's key since they were replaced (see editMessage in edits.ts), opened for members who
 * are shown the message. A deleted message has no history to show, like no content.
 */

/** At most this many previous versions are answered: the newest ones. */
export const MAX_EDIT_HISTORY = 100

async function openVersion (keyring: Keyring, groupId: string, messageId: string, edit: SealedEdit): Promise<MessageEditVersion> {
  const context = (field: string) => ({ recordId: messageId, field: `${field}:${edit.version}` })
  const [content, metadata] = await Promise.all([
    keyring.decrypt(groupId, { ciphertext: edit.content, keyVersion: edit.content_key_version }, context('edit')),
    edit.metadata === null || edit.metadata_key_version === null
      ? Promise.resolve('{}')
      : keyring.decrypt(groupId, { ciphertext: edit.metadata, keyVersion: edit.metadata_key_version }, context('edit-metadata'))
  ])
  return {
    version: edit.version,
    content,
    metadata: JSON.parse(metadata) as MessageMetadata,
    writtenAt: edit.written_at.toISOString(),
    editedAt: edit.replaced_at.toISOString(),
    editedBy: edit.replaced_by
  }
}

/** The previous versions of a message the caller is shown, newest first. */
export async function editHistory (deps: ChatDeps, caller: Caller, messageId: string): Promise<MessageEditHistoryResponse> {
  const row = await findShownOrThrow(deps, caller, messageId)
  if (row.is_deleted) throw notFound('Message')
  const id = fromBin(row.id)
  const groupId = fromBin(row.group_id)
  const edits = row.edit_count === 0 ? [] : await deps.repo.editsOf(row.id, MAX_EDIT_HISTORY)
  const versions = await Promise.all(edits.map(async (edit) => await openVersion(deps.keyring, groupId, id, edit)))
  return { messageId: id, versions, count: versions.length }
}
