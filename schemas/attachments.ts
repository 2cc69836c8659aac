import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, uuid } from './common.ts'
import { ChatAttachment } from './chat.ts'

/*
 * Attachments (DESIGN §4 "attachments"): files uploaded into a group, streamed and sealed at
 * rest, then carried by a message through SendMessageRequest.attachmentIds. An upload answers
 * with the seed's ChatAttachment (schemas/chat.ts); downloads are bytes, not JSON.
 */

export const ATTACHMENT_LIMITS = {
  uploadIdMaxLength: 64,
  fileNameMaxLength: 255,
  /** An unattached upload older than this is swept away. */
  unattachedTtlMs: 24 * 3600_000,
  /** upload_progress events per upload and second, at most. */
  progressEventsPerSecond: 4
} as const

const UploadId = Type.String({
  minLength: 1,
  maxLength: ATTACHMENT_LIMITS.uploadIdMaxLength,
  description: 'Client-generated id (a UUID) for deduplication: a retried upload answers with the attachment stored first'
})

export const AttachmentParams = Type.Object({
  groupId: uuid(),
  attachmentId: uuid()
})
export type AttachmentParams = Static<typeof AttachmentParams>

/**
 * POST …/chat/attachments, beside the multipart body (one `file` part). The same values may
 * come as form fields before the file part instead; the query wins.
 */
export const UploadAttachmentQuery = Type.Object({
  uploadId: Type.Optional(UploadId),
  size: Type.Optional(Type.Integer({ minimum: 0, description: 'The file\'s size as the client knows it: the totalBytes of upload_progress' }))
})
export type UploadAttachmentQuery = Static<typeof UploadAttachmentQuery>

export const AttachmentResponse = Type.Object({ attachment: Ref(ChatAttachment) }, { $id: 'AttachmentResponse' })
export type AttachmentResponse = Static<typeof AttachmentResponse>

/**
 * To the uploader's own connections while an upload streams in (at most 4 a second), and once
 * more when it is stored, with `attachmentId`. `uploadId` is the client's upload id, or the
 * attachment id when the upload has none.
 */
export const UploadProgressEvent = Type.Object({
  type: Type.Literal('upload_progress'),
  payload: Type.Object({
    uploadId: Type.String(),
    groupId: uuid(),
    receivedBytes: Type.Integer({ minimum: 0 }),
    totalBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'The size the client declared (`size`), else null' }),
    attachmentId: Type.Optional(uuid({ description: 'Only in the last event, once the file is stored' }))
  })
}, { $id: 'UploadProgressEvent', description: 'An upload of yours is streaming in, or was stored' })
export type UploadProgressEvent = Static<typeof UploadProgressEvent>

/** Every attachment schema with an `$id`, for schemas/index.ts. */
export const attachmentSchemas: TSchema[] = [AttachmentResponse]
