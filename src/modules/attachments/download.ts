import { Readable, pipeline } from 'node:stream'
import { AppError, notFound } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { AttachmentRow } from '../../../db/database.ts'
import { FILE_NAME_FIELD, thumbnailKeyOf } from './attachment-view.ts'
import { isInline } from './file-types.ts'
import { HEADER_BYTES, planOpening, type PlainRange, type SealedPart } from './sealed-stream.ts'
import type { AttachmentDeps } from './deps.ts'
import type { Caller } from '../membership/guard.ts'
import { StoredFileMissing } from './storage.ts'

/** The request headers a download honours. */
export interface DownloadConditions {
  range?: string | undefined
  ifNoneMatch?: string | undefined
  ifRange?: string | undefined
}

export type Download =
  | { status: 304, headers: Record<string, string> }
  | { status: 200 | 206, headers: Record<string, string>, body: Readable }

/** Thrown for a Range no byte of the file satisfies; the route adds `Content-Range: bytes *\/size`. */
export class RangeNotSatisfiable extends AppError {
  readonly size: number
  constructor (size: number) {
    super('RANGE_NOT_SATISFIABLE', `The requested range is outside the file (${size} bytes)`, { size })
    this.size = size
  }
}

/**
 * One range of `bytes=first-last`, `bytes=first-` or `bytes=-suffix` (RFC 9110 §14.1.2) within
 * a file of `size` bytes: null to serve the whole file (no Range, a malformed one, or several
 * ranges, which a server may ignore); throws RangeNotSatisfiable when it misses the file.
 */
export function rangeOf (header: string | undefined, size: number): PlainRange | null {
  if (header === undefined) return null
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim())
  if (match === null) return null
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return null
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiable(size)
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return null
  if (start >= size) throw new RangeNotSatisfiable(size)
  return { start, end }
}

/** True when an If-None-Match list names this ETag (weakly compared, RFC 9110 §13.1.2), or is `*`. */
function matchesEtag (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).some((tag) => tag === '*' || tag === etag)
}

/** Content-Disposition with a plain ASCII fallback and the exact name as RFC 8187 filename* (RFC 6266). */
export function contentDisposition (inline: boolean, fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7E]/g, '_').replace(/["\\%]/g, '_')
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${inline ? 'inline' : 'attachment'}; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

async function readAll (stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(part as Buffer)
  return Buffer.concat(parts)
}

/**
 * The decrypted bytes of `range`, as a stream whose first chunk is already opened: a file
 * whose first chunk does not authenticate fails here, before any header is sent; a later
 * chunk that fails destroys the stream (the response is cut off, never completed with bad bytes).
 */
async function openRange (deps: AttachmentDeps, row: AttachmentRow, part: SealedPart, size: number, range: PlainRange): Promise<Readable> {
  const groupId = fromBin(row.group_id)
  const attachmentId = fromBin(row.id)
  const key = part === 'file' ? row.storage_key : thumbnailKeyOf(row.storage_key)
  const header = await readAll(await deps.storage.get(key, { start: 0, end: HEADER_BYTES - 1 }))
  const keyVersion = header.length >= 12 ? header.readUInt32BE(8) : 0
  const dataKey = await deps.keyring.dataKeyOfVersion(groupId, keyVersion)
  const plan = planOpening(header, dataKey, { groupId, attachmentId, part }, size, range)
  const stored = await deps.storage.get(key, { start: plan.storedStart, end: plan.storedEnd })
  const opened = pipeline(stored, plan.transform, () => {})
  const chunks = opened[Symbol.asyncIterator]()
  const first = await chunks.next()
  async function * rest (): AsyncGenerator<Buffer> {
    try {
      if (first.done === true) return
      yield first.value as Buffer
      for (;;) {
        const next = await chunks.next()
        if (next.done === true) return
        yield next.value as Buffer
      }
    } finally {
      // A client gone mid-download: close the stored file too.
      await chunks.return?.()
    }
  }
  return Readable.from(rest(), { objectMode: false })
}

/**
 * A download of an attachment (or its thumbnail) for the caller: 404 unless they may see it
 * (see findDownloadable), 304 when their copy is current, 206 for a satisfiable Range.
 */
export async function downloadAttachment (deps: AttachmentDeps, caller: Caller, attachmentId: string, part: SealedPart, conditions: DownloadConditions): Promise<Download> {
  const row = await deps.repo.findDownloadable(caller.membership.groupIdBin, toBin(attachmentId), caller.user.id)
  if (row === null || (part === 'thumbnail' && row.thumbnail_size === null)) throw notFound('Attachment')
  const id = fromBin(row.id)
  const size = part === 'file' ? Number(row.file_size) : Number(row.thumbnail_size)
  // A file never changes under its id, so the id (and the part) is its validator.
  const etag = `"${part === 'file' ? 'f' : 't'}-${id}"`
  const headers: Record<string, string> = {
    etag,
    'cache-control': 'private, no-cache',
    'x-content-type-options': 'nosniff'
  }
  if (matchesEtag(conditions.ifNoneMatch, etag)) return { status: 304, headers }

  const mime = part === 'file' ? row.mime_type : 'image/webp'
  const fileName = part === 'file'
    ? await deps.keyring.decrypt(fromBin(row.group_id), { ciphertext: row.file_name, keyVersion: row.file_name_key_version }, { recordId: id, field: FILE_NAME_FIELD })
    : 'thumbnail.webp'
  const honoursRange = conditions.ifRange === undefined || conditions.ifRange.trim() === etag
  const range = honoursRange ? rangeOf(conditions.range, size) : null
  const served = range ?? { start: 0, end: size - 1 }
  const body = await openRange(deps, row, part, size, served).catch((err: unknown) => {
    // A row whose file is gone (a group deleted meanwhile, its files first): there is nothing to serve.
    throw err instanceof StoredFileMissing ? notFound('Attachment') : err
  })
  Object.assign(headers, {
    'content-type': mime === 'text/plain' ? 'text/plain; charset=utf-8' : mime,
    'content-length': String(served.end - served.start + 1),
    'content-disposition': contentDisposition(isInline(mime), fileName),
    'accept-ranges': 'bytes'
  })
  if (range === null) return { status: 200, headers, body }
  headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
  return { status: 206, headers, body }
}
