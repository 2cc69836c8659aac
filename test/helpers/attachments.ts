import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { ChatAttachment } from '../../schemas/chat.ts'
import type { TestUser } from './users.ts'

export interface FilePart {
  name: string
  content: Buffer
  /** What the client claims; the server ignores it. */
  type?: string
}

/** A multipart/form-data body: the fields first, then the file part (as browsers' FormData sends them). */
export function multipart (file: FilePart | null, fields: Record<string, string> = {}): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----parley${randomBytes(8).toString('hex')}`
  const parts: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  }
  if (file !== null) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`))
    parts.push(file.content, Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

/** POST …/chat/attachments as `who`. */
export async function upload (app: FastifyInstance, who: TestUser, groupId: string, file: FilePart | null, options: { fields?: Record<string, string>, query?: string } = {}): Promise<LightMyRequestResponse> {
  const body = multipart(file, options.fields)
  return await app.inject({
    method: 'POST',
    url: `${app.config.apiPrefix}/groups/${groupId}/chat/attachments${options.query ?? ''}`,
    headers: { ...who.auth, ...body.headers },
    payload: body.payload
  })
}

/** Uploads and returns the attachment, failing on anything but 201. */
export async function uploaded (app: FastifyInstance, who: TestUser, groupId: string, file: FilePart, options: { fields?: Record<string, string> } = {}): Promise<ChatAttachment> {
  const res = await upload(app, who, groupId, file, options)
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
  return (res.json() as { data: { attachment: ChatAttachment } }).data.attachment
}

/** GET of an attachment URL (ChatAttachment.filePath/thumbnailPath) as `who`. */
export async function fetchAttachment (app: FastifyInstance, who: TestUser, path: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: path, headers: { ...who.auth, ...headers } })
}

/** Every file under a directory (recursively), as paths. */
export async function filesUnder (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

/** The bytes of every file under a directory, concatenated per file. */
export async function storedBytes (dir: string): Promise<Buffer[]> {
  return await Promise.all((await filesUnder(dir)).map(async (path) => await readFile(path)))
}

/** A minimal MP4 signature (ftyp isom) followed by `size` random bytes: typed video/mp4 by its content. */
export function mp4Like (size: number): Buffer {
  const head = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0, 0x69, 0x73, 0x6f, 0x6d, 0x69, 0x73, 0x6f, 0x32])
  return Buffer.concat([head, randomBytes(size)])
}
