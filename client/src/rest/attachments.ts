import type { AttachmentResponse, ChatAttachment } from '@parley/types'
import { pathOf, type Call } from '../http.ts'
import { newFormData, type BlobLike } from '../platform.ts'

export interface UploadOptions {
  /** A client-made id (a UUID): retrying with it answers with the first upload instead of storing again. */
  uploadId?: string
  /** The name to store; a File's own name by default. */
  fileName?: string
}

/**
 * /groups/:groupId/chat/attachments: upload a file, then name its id in a send's
 * `attachmentIds`. Downloads need the access token (an `Authorization` header), so a page
 * fetches them and shows a blob URL; the URL helpers say where they are.
 */
export function attachmentsApi (call: Call, baseUrl = '') {
  const attachments = (groupId: string): string => pathOf('/groups/{groupId}/chat/attachments', { groupId })
  return {
    /** Uploads one file (multipart, streamed by the server): 201 with the stored attachment. */
    upload: async (groupId: string, file: BlobLike, options: UploadOptions = {}) => {
      const form = newFormData()
      // Fields before the file: the server reads them before the file streams in.
      if (options.uploadId !== undefined) form.append('uploadId', options.uploadId)
      form.append('size', String(file.size))
      form.append('file', file, options.fileName ?? (file as BlobLike & { name?: string }).name ?? 'file')
      return await call<AttachmentResponse>('POST', attachments(groupId), { form })
    },
    /** The absolute download URL of an attachment (Range, ETag; members only). */
    url: (attachment: Pick<ChatAttachment, 'filePath'>): string => `${baseUrl}${attachment.filePath}`,
    /** The absolute URL of an image attachment's thumbnail, or null when it has none. */
    thumbnailUrl: (attachment: Pick<ChatAttachment, 'thumbnailPath'>): string | null =>
      attachment.thumbnailPath === null || attachment.thumbnailPath === undefined ? null : `${baseUrl}${attachment.thumbnailPath}`
  }
}
