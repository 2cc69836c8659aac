import { Readable, pipeline } from 'node:stream'
import sharp from 'sharp'
import type { ChatAttachment } from '../../../schemas/chat.ts'
import { ATTACHMENT_LIMITS } from '../../../schemas/attachments.ts'
import { AppError, forbidden } from '../../lib/app-error.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { hasRole, type Caller } from '../membership/guard.ts'
import { duplicateKeyOf } from '../../../db/errors.ts'
import { FILE_NAME_FIELD, storageKeyOf, thumbnailKeyOf, toChatAttachment } from './attachment-view.ts'
import { inspectUpload } from './inspection.ts'
import { createSealingStream, type SealedPart } from './sealed-stream.ts'
import type { AttachmentDeps } from './deps.ts'

/** An incoming file part: its bytes as they arrive and the name the client gave it. */
export interface IncomingFile {
  stream: Readable
  fileName: string
}

export interface UploadOptions {
  uploadId: string | null
  /** The size the client declared, for progress reports. */
  totalBytes: number | null
}

const THUMBNAIL_EDGE = 320
/** Larger images are not decoded for a thumbnail (sharp's own default is 268 MP). */
const MAX_IMAGE_PIXELS = 40_000_000

/** A file name safe to keep and to show: no path, no control characters, bounded. */
export function cleanFileName (name: string): string {
  // eslint-disable-next-line no-control-regex
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001F\u007F]/g, '').trim()
  const chars = [...base].slice(0, ATTACHMENT_LIMITS.fileNameMaxLength).join('')
  return chars.length > 0 ? chars : 'file'
}

/** The sender's rights in the group, as a send checks them: broadcast groups are for admins, blocked direct chats refuse. */
async function checkUploadRights (deps: AttachmentDeps, caller: Caller): Promise<void> {
  const { membership, user } = caller
  if (membership.groupType === 'broadcast' && !hasRole(membership.role, 'admin')) {
    throw forbidden('Only admins and the owner can post in a broadcast group')
  }
  if (membership.groupType === 'direct' && await deps.blockedWithinGroup(membership.groupIdBin, user.id)) {
    throw forbidden('You cannot send messages in this chat')
  }
}

/** Seals a stream into the storage; all or nothing. The first error of any stage is the one thrown. */
async function storeSealed (deps: AttachmentDeps, key: string, groupId: string, attachmentId: string, part: SealedPart, stages: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream>): Promise<void> {
  const { version, key: dataKey } = await deps.keyring.dataKey(groupId)
  const sealing = createSealingStream(dataKey, version, { groupId, attachmentId, part })
  let firstError: unknown = null
  pipeline([...stages, sealing], (err) => { if (err !== null && err !== undefined) firstError ??= err })
  try {
    await deps.storage.put(key, sealing)
  } catch (err) {
    throw firstError ?? err
  }
}

/** Width, height and a small WebP thumbnail of an image; nulls when sharp cannot read it. */
async function processImage (image: Buffer): Promise<{ width: number | null, height: number | null, thumbnail: Buffer | null }> {
  try {
    const decoder = sharp(image, { limitInputPixels: MAX_IMAGE_PIXELS, animated: false })
    const { width, height } = await decoder.metadata()
    const thumbnail = await decoder.clone().rotate()
      .resize(THUMBNAIL_EDGE, THUMBNAIL_EDGE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 70 })
      .toBuffer()
    return { width: width ?? null, height: height ?? null, thumbnail }
  } catch {
    return { width: null, height: null, thumbnail: null }
  }
}

/**
 * Stores an upload: streamed through the inspection (size, type, progress) and the sealing
 * into the storage, never whole in memory; then its thumbnail, then its row. A retry under the
 * same upload id answers with the attachment stored first (and stores nothing).
 */
export async function uploadAttachment (deps: AttachmentDeps, caller: Caller, file: IncomingFile, options: UploadOptions): Promise<ChatAttachment> {
  await checkUploadRights(deps, caller)
  const groupBin = caller.membership.groupIdBin
  const groupId = fromBin(groupBin)
  const uploaderId = caller.user.id
  if (options.uploadId !== null) {
    const existing = await deps.repo.findByUploadId(groupBin, uploaderId, options.uploadId)
    if (existing !== null) {
      file.stream.resume()
      return await toChatAttachment(deps.keyring, deps.apiPrefix, existing)
    }
  }

  const id = newId()
  const key = storageKeyOf(groupId, id)
  const uploadId = options.uploadId ?? id
  const progress = (receivedBytes: number, attachmentId?: string): void => {
    deps.bus.publish({ userId: uploaderId }, {
      type: 'upload_progress',
      payload: { uploadId, groupId, receivedBytes, totalBytes: options.totalBytes, ...(attachmentId !== undefined ? { attachmentId } : {}) }
    })
  }
  const inspection = inspectUpload({
    maxBytes: deps.maxBytes,
    clock: deps.clock,
    progressIntervalMs: 1000 / ATTACHMENT_LIMITS.progressEventsPerSecond,
    onProgress: (received) => { progress(received) }
  })
  await storeSealed(deps, key, groupId, id, 'file', [file.stream, inspection.stream])

  let thumbnailStored = false
  try {
    const image = inspection.image()
    const processed = image === null ? { width: null, height: null, thumbnail: null } : await processImage(image)
    if (processed.thumbnail !== null) {
      await storeSealed(deps, thumbnailKeyOf(key), groupId, id, 'thumbnail', [Readable.from([processed.thumbnail])])
      thumbnailStored = true
    }
    const fileName = await deps.keyring.encrypt(groupId, cleanFileName(file.fileName), { recordId: id, field: FILE_NAME_FIELD })
    const row = {
      id: toBin(id),
      group_id: groupBin,
      uploader_user_id: uploaderId,
      client_upload_id: options.uploadId,
      file_name: fileName.ciphertext,
      file_name_key_version: fileName.keyVersion,
      mime_type: inspection.mimeType() ?? 'application/octet-stream',
      file_size: inspection.receivedBytes(),
      width: processed.width,
      height: processed.height,
      thumbnail_size: processed.thumbnail?.length ?? null,
      storage_key: key,
      message_id: null,
      created_at: new Date(deps.clock.now())
    }
    await deps.repo.insert(row)
    progress(row.file_size, id)
    return await toChatAttachment(deps.keyring, deps.apiPrefix, row)
  } catch (err) {
    await removeStored(deps, key, thumbnailStored)
    // Two uploads raced under one upload id: the one stored first is the answer to both.
    if (options.uploadId !== null && duplicateKeyOf(err) !== null) {
      const existing = await deps.repo.findByUploadId(groupBin, uploaderId, options.uploadId)
      if (existing !== null) return await toChatAttachment(deps.keyring, deps.apiPrefix, existing)
    }
    throw err
  }
}

/** Removes a file and its thumbnail from the storage. */
export async function removeStored (deps: Pick<AttachmentDeps, 'storage'>, key: string, thumbnail: boolean): Promise<void> {
  await deps.storage.delete(key)
  if (thumbnail) await deps.storage.delete(thumbnailKeyOf(key))
}

/** Refuses a request that is not one file. */
export function noFile (): AppError {
  return new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'file', message: 'file must be a multipart file part' }])
}
