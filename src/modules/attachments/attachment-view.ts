import type { AttachmentRow } from '../../../db/database.ts'
import type { ChatAttachment } from '../../../schemas/chat.ts'
import { fromBin } from '../../lib/ids.ts'
import type { Keyring } from '../../lib/keyring.ts'

/** The storage key of a group's file, and of its thumbnail. */
export const storageKeyOf = (groupId: string, attachmentId: string): string => `${groupId}/${attachmentId}`
export const thumbnailKeyOf = (storageKey: string): string => `${storageKey}.thumb`

/** The sealed file name's place in the keyring's AAD: the attachment is the record. */
export const FILE_NAME_FIELD = 'file_name'

/** The download URLs of an attachment, as paths on this server. */
export function attachmentUrl (apiPrefix: string, groupId: string, attachmentId: string): string {
  return `${apiPrefix}/groups/${groupId}/chat/attachments/${attachmentId}`
}

/** A stored attachment as the API shows it (seed 01 §6.1 ChatAttachment), its file name opened. */
export async function toChatAttachment (keyring: Keyring, apiPrefix: string, row: AttachmentRow): Promise<ChatAttachment> {
  const groupId = fromBin(row.group_id)
  const id = fromBin(row.id)
  const fileName = await keyring.decrypt(groupId, { ciphertext: row.file_name, keyVersion: row.file_name_key_version }, { recordId: id, field: FILE_NAME_FIELD })
  const url = attachmentUrl(apiPrefix, groupId, id)
  return {
    id,
    messageId: row.message_id === null ? '' : fromBin(row.message_id),
    fileName,
    fileType: row.mime_type,
    fileSize: Number(row.file_size),
    filePath: url,
    thumbnailPath: row.thumbnail_size === null ? null : `${url}/thumbnail`,
    width: row.width,
    height: row.height,
    duration: null,
    isEncrypted: true,
    processingStatus: 'completed',
    groupId,
    uploaderUserId: row.uploader_user_id,
    uploadId: row.client_upload_id,
    createdAt: row.created_at.toISOString()
  }
}
