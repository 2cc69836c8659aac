import multipart, { type Multipart, type MultipartFields } from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Envelope, ErrorResponse, GroupIdParams, Ref } from '../../../schemas/common.ts'
import { ATTACHMENT_LIMITS, AttachmentParams, AttachmentResponse, UploadAttachmentQuery } from '../../../schemas/attachments.ts'
import { AppError, invalid, notFound } from '../../lib/app-error.ts'
import { ok } from '../../lib/envelope.ts'
import { callerOf } from '../membership/guard.ts'
import { RangeNotSatisfiable, type Download } from './download.ts'
import type { SealedPart } from './sealed-stream.ts'
import { noFile } from './upload.ts'

const Failure = Ref(ErrorResponse)
const failures = { 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure, 500: Failure }
const Bytes = { description: 'The file, decrypted as it streams', type: 'string', format: 'binary' } as const
const downloadResponses = {
  200: Bytes,
  206: { ...Bytes, description: 'The requested range (Content-Range)' },
  304: { description: 'Not modified (If-None-Match)', type: 'null' },
  416: Failure,
  ...failures
} as const
// Query strings are plain objects (no $id) so that OpenAPI lists their parameters.
const UploadQuery = Type.Object(UploadAttachmentQuery.properties)

const single = (value: string | string[] | undefined): string | undefined => Array.isArray(value) ? value[0] : value

/** A plain form field's value, when the part before the file carried one. */
function fieldValue (fields: MultipartFields, name: string): string | undefined {
  const field = fields[name] as Multipart | Multipart[] | undefined
  if (field === undefined || Array.isArray(field) || field.type !== 'field') return undefined
  return typeof field.value === 'string' ? field.value : undefined
}

/** The upload options from the query, else from the form fields before the file. */
function uploadOptionsOf (query: UploadAttachmentQuery, fields: MultipartFields): { uploadId: string | null, totalBytes: number | null } {
  const uploadId = query.uploadId ?? fieldValue(fields, 'uploadId') ?? null
  if (uploadId !== null && (uploadId.length < 1 || uploadId.length > ATTACHMENT_LIMITS.uploadIdMaxLength)) {
    throw invalid('uploadId', `uploadId must be 1-${ATTACHMENT_LIMITS.uploadIdMaxLength} characters`)
  }
  const declared = query.size ?? fieldValue(fields, 'size')
  const totalBytes = declared === undefined ? null : Number(declared)
  if (totalBytes !== null && (!Number.isSafeInteger(totalBytes) || totalBytes < 0)) throw invalid('size', 'size must be a non-negative integer')
  return { uploadId, totalBytes }
}

async function send (reply: FastifyReply, download: Download): Promise<FastifyReply> {
  void reply.code(download.status).headers(download.headers)
  return download.status === 304 ? await reply.send() : await reply.send(download.body)
}

/**
 * Attachments, mounted at /groups/:groupId/chat: upload (multipart, one `file` part) and
 * download (the file and its thumbnail). Every route answers 404 to whoever is not a member,
 * so a URL says nothing to outsiders, not even whether the group exists.
 */
const attachmentRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const attachments = fastify.attachmentService
  const groups = fastify.groupService
  const maxBytes = fastify.config.attachments.maxBytes
  // Here only: the multipart parser leaves the body unread for the handler to stream.
  await fastify.register(multipart, { limits: { fileSize: maxBytes + 1, files: 1, fields: 4, fieldSize: 256, parts: 6 } })

  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', async (request) => {
    const { groupId } = request.params as { groupId: string }
    const membership = await groups.getMembership(groupId, request.user.id)
    if (membership === null) throw notFound('Attachment')
    request.membership = membership
  })

  fastify.post('/attachments', {
    config: { rateLimit: fastify.rateLimitCategory('uploads') },
    schema: {
      tags: ['attachments'],
      summary: 'Upload one file (multipart/form-data, a `file` part): 201 with the stored attachment, to name in a send\'s attachmentIds within 24 h',
      description: `Streamed and sealed as it arrives; at most ATTACHMENT_MAX_BYTES (${maxBytes} here), else 413. ` +
        'The type is sniffed from the bytes and must be on the allowlist (else 415). A retry with the same uploadId answers with the first upload.',
      consumes: ['multipart/form-data'],
      params: GroupIdParams,
      querystring: UploadQuery,
      response: { 201: Envelope(Ref(AttachmentResponse)), 413: Failure, 415: Failure, ...failures }
    }
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'An upload is multipart/form-data with one file part')
    const part = await request.file()
    if (part === undefined) throw noFile()
    const options = uploadOptionsOf(request.query, part.fields)
    const attachment = await attachments.upload(callerOf(request), { stream: part.file, fileName: part.filename }, options)
    return await reply.code(201).send(ok({ attachment }))
  })

  async function download (request: FastifyRequest, reply: FastifyReply, attachmentId: string, part: SealedPart): Promise<FastifyReply> {
    const { headers } = request
    try {
      return await send(reply, await attachments.download(callerOf(request), attachmentId, part, {
        range: single(headers.range),
        ifNoneMatch: single(headers['if-none-match']),
        ifRange: single(headers['if-range'])
      }))
    } catch (err) {
      if (err instanceof RangeNotSatisfiable) void reply.header('content-range', `bytes */${err.size}`)
      throw err
    }
  }

  fastify.get('/attachments/:attachmentId', {
    schema: {
      tags: ['attachments'],
      summary: 'Download an attachment, decrypted as it streams: Range (one range, 206), ETag and If-None-Match (304); 404 unless its message is visible to you',
      params: AttachmentParams,
      response: downloadResponses
    }
  }, async (request, reply) => await download(request, reply, request.params.attachmentId, 'file'))

  fastify.get('/attachments/:attachmentId/thumbnail', {
    schema: {
      tags: ['attachments'],
      summary: 'An image attachment\'s thumbnail (WebP, at most 320 px a side); 404 when it has none',
      params: AttachmentParams,
      response: downloadResponses
    }
  }, async (request, reply) => await download(request, reply, request.params.attachmentId, 'thumbnail'))
}

export default attachmentRoutes
