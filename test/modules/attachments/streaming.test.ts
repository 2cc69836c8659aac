import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { get, request as httpRequest, type IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ChatAttachment } from '../../../schemas/chat.ts'
import { HEADER_BYTES, CHUNK_BYTES, TAG_BYTES } from '../../../src/modules/attachments/sealed-stream.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { call, createChatGroup } from '../../helpers/api.ts'
import { filesUnder } from '../../helpers/attachments.ts'
import { connectWs } from '../../helpers/ws.ts'

/*
 * Real uploads over HTTP: the app listens on an ephemeral port and fetch streams the multipart
 * body from a generator, so neither side ever holds the file. The server runs in this process,
 * so its memory is this process's memory.
 */

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor', execution: 'sync' }) => void

const MiB = 1024 * 1024
const MARKER = Buffer.from('PARLEY-STREAMING-PLAINTEXT-MARKER')
const dir = await mkdtemp(join(tmpdir(), 'parley-streaming-'))
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
const app = await buildTestApp(t, import.meta.url, { env: { ATTACHMENTS_DIR: dir, RATE_LIMIT_SCALE: '100' } })
await app.listen({ port: 0, host: '127.0.0.1' })
const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
const { groupId, owner, members } = await createChatGroup(app, { memberCount: 1 })
const member = members[0] as typeof owner

/**
 * A file of `size` bytes made on the fly, 64 KiB at a time (an MP4 signature, then random bytes
 * with each chunk's number written in and the marker at the start of every MiB), so no two
 * chunks are alike. Its SHA-256 is computed as it is produced.
 */
function makeFile (size: number): { chunks: () => AsyncGenerator<Buffer>, digest: () => string } {
  const hash = createHash('sha256')
  const pool = randomBytes(64 * 1024)
  let digest = ''
  async function * chunks (): AsyncGenerator<Buffer> {
    const head = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0, 0x69, 0x73, 0x6f, 0x6d, 0x69, 0x73, 0x6f, 0x32])
    let produced = 0
    for (let counter = 0; produced < size; counter++) {
      const chunk = Buffer.from(pool.subarray(0, Math.min(pool.length, size - produced)))
      if (chunk.length >= 64) chunk.writeUInt32BE(counter, 32)
      if (produced === 0) head.copy(chunk, 0)
      if (produced % MiB === 0 && chunk.length >= head.length + MARKER.length) MARKER.copy(chunk, head.length)
      hash.update(chunk)
      produced += chunk.length
      yield chunk
    }
    digest = hash.digest('hex')
  }
  return { chunks, digest: () => digest }
}

/** The multipart body around a file, as it is produced. */
async function * multipartBody (fileChunks: AsyncGenerator<Buffer>, boundary: string, fileName: string): AsyncGenerator<Buffer> {
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  for await (const chunk of fileChunks) yield chunk
  yield Buffer.from(`\r\n--${boundary}--\r\n`)
}

/**
 * Uploads with node:http, piped from the generator with backpressure (a request the server
 * reads slowly waits instead of queueing in this process): the attachment and the file's digest.
 */
async function streamUpload (who: typeof owner, size: number, seed: string, query = ''): Promise<{ attachment: ChatAttachment, digest: string }> {
  const file = makeFile(size)
  const boundary = `----parley${randomBytes(8).toString('hex')}`
  const request = httpRequest(`${origin}${app.config.apiPrefix}/groups/${groupId}/chat/attachments${query}`, {
    method: 'POST',
    headers: { ...who.auth, 'content-type': `multipart/form-data; boundary=${boundary}` }
  })
  const responded = new Promise<IncomingMessage>((resolve, reject) => { request.on('response', resolve).on('error', reject) })
  await pipeline(Readable.from(multipartBody(file.chunks(), boundary, `${seed}.mp4`)), request)
  const response = await responded
  const text = await new Promise<string>((resolve, reject) => {
    let body = ''
    response.setEncoding('utf8').on('data', (part: string) => { body += part }).on('end', () => { resolve(body) }).on('error', reject)
  })
  if (response.statusCode !== 201) throw new Error(`upload failed: ${response.statusCode ?? 0} ${text}`)
  return { attachment: (JSON.parse(text) as { data: { attachment: ChatAttachment } }).data.attachment, digest: file.digest() }
}

/**
 * Downloads with node:http (plain streams: the client side adds little to the memory measured)
 * and hashes as it reads: the status, the bytes and their digest, or the error that cut it.
 */
async function streamDownload (who: typeof owner, path: string): Promise<{ status: number, bytes: number, digest: string, error: Error | null }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${origin}${path}`, { headers: who.auth }, resolve).on('error', reject)
  })
  const hash = createHash('sha256')
  let bytes = 0
  let error: Error | null = null
  try {
    for await (const chunk of response) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    // A response cut off before its Content-Length ends without an error event on some versions.
    if (!response.complete) throw new Error('the response ended before it was complete')
  } catch (err) {
    error = err as Error
  }
  return { status: response.statusCode ?? 0, bytes, digest: hash.digest('hex'), error }
}

interface Growth {
  /** Peak RSS over the level before. */
  rss: number
  /**
   * Peak bytes of ArrayBuffers (every Buffer) still referenced after a full collection, over the
   * level before. RSS alone can hide a file held in memory (the allocator hands out memory freed
   * earlier and still resident without RSS growing); this cannot: a buffered file counts in full.
   */
  buffers: number
}

/** Runs `work` while sampling the process's memory; answers the peak growth over the level before it. */
async function memoryGrowthDuring (work: () => Promise<void>): Promise<Growth> {
  // Buffers freed by a collection are released a moment later: settle before the baseline.
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const before = process.memoryUsage()
  const peak = { rss: before.rss, buffers: before.arrayBuffers }
  const sampler = setInterval(() => { peak.rss = Math.max(peak.rss, process.memoryUsage().rss) }, 10)
  // Frequent young-generation collections (cheap) keep each chunk's short-lived buffers, which
  // V8 would otherwise let pile up to its external-memory threshold, from passing for live memory.
  const collector = setInterval(() => { gc({ type: 'minor', execution: 'sync' }) }, 20)
  // Live buffers are read right after a full collection: what is still referenced then.
  const census = setInterval(() => {
    gc()
    peak.buffers = Math.max(peak.buffers, process.memoryUsage().arrayBuffers)
  }, 250)
  try {
    await work()
  } finally {
    clearInterval(sampler)
    clearInterval(collector)
    clearInterval(census)
  }
  peak.rss = Math.max(peak.rss, process.memoryUsage().rss)
  return { rss: peak.rss - before.rss, buffers: peak.buffers - before.arrayBuffers }
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(1)

async function storedPathOf (attachment: ChatAttachment): Promise<string> {
  const path = (await filesUnder(dir)).find((p) => p.endsWith(attachment.id))
  if (path === undefined) throw new Error('stored file not found')
  return path
}

/** True when the file holds `needle` anywhere (read in pieces that overlap by the needle's length). */
async function fileContains (path: string, needle: Buffer): Promise<boolean> {
  let tail = Buffer.alloc(0)
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) {
    const window = Buffer.concat([tail, chunk as Buffer])
    if (window.includes(needle)) return true
    tail = window.subarray(Math.max(0, window.length - needle.length))
  }
  return false
}

async function flipByteAt (path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, offset)
    byte[0] = (byte[0] as number) ^ 0x01
    await handle.write(byte, 0, 1, offset)
  } finally {
    await handle.close()
  }
}

t.test('a 20 MiB file round-trips byte-identical while the server\'s memory stays flat', async (t) => {
  // Warm-up: the first upload and download load sharp, file-type, the keys and the pools.
  const warm = await streamUpload(member, 2 * MiB, 'warm-up')
  await streamDownload(member, warm.attachment.filePath)

  const ws = await connectWs(app, { token: member.token })
  t.teardown(() => ws.ws.terminate())
  const size = 20 * MiB
  let uploadedFile: { attachment: ChatAttachment, digest: string } | null = null
  const started = Date.now()
  const uploadGrowth = await memoryGrowthDuring(async () => {
    uploadedFile = await streamUpload(member, size, 'big', `?uploadId=big-one&size=${size}`)
  })
  const elapsedSeconds = (Date.now() - started) / 1000
  const { attachment, digest } = uploadedFile as unknown as { attachment: ChatAttachment, digest: string }
  t.equal(attachment.fileSize, size)
  t.equal(attachment.fileType, 'video/mp4')
  t.ok(uploadGrowth.rss < 10 * MiB, `RSS grew by ${mib(uploadGrowth.rss)} MiB during the upload (bound: 10 MiB)`)
  t.ok(uploadGrowth.buffers < 10 * MiB, `live buffers grew by ${mib(uploadGrowth.buffers)} MiB during the upload (bound: 10 MiB)`)

  // Members see it once a message carries it.
  t.equal((await call(app, member, 'POST', `/groups/${groupId}/chat/messages`, { content: 'the video', attachmentIds: [attachment.id] })).statusCode, 201)
  let downloaded: Awaited<ReturnType<typeof streamDownload>> | null = null
  const downloadGrowth = await memoryGrowthDuring(async () => {
    downloaded = await streamDownload(owner, attachment.filePath)
  })
  const result = downloaded as unknown as Awaited<ReturnType<typeof streamDownload>>
  t.equal(result.status, 200)
  t.equal(result.error, null)
  t.equal(result.bytes, size)
  t.equal(result.digest, digest, 'byte-identical')
  t.ok(downloadGrowth.rss < 10 * MiB, `RSS grew by ${mib(downloadGrowth.rss)} MiB during the download (bound: 10 MiB)`)
  t.ok(downloadGrowth.buffers < 10 * MiB, `live buffers grew by ${mib(downloadGrowth.buffers)} MiB during the download (bound: 10 MiB)`)

  const path = await storedPathOf(attachment)
  t.notOk(await fileContains(path, MARKER), 'no plaintext run of the original on disk')

  // Progress reached the uploader's connection: throttled, then the final one with the id.
  const final = await ws.next('upload_progress', (f) => f.payload.attachmentId === attachment.id)
  t.match(final.payload, { uploadId: 'big-one', groupId, receivedBytes: size, totalBytes: size })
  const progress = ws.frames.filter((f) => f.type === 'upload_progress' && f.payload.uploadId === 'big-one')
  t.ok(progress.length <= Math.ceil(elapsedSeconds * 4) + 1, `${progress.length} events in ${elapsedSeconds.toFixed(1)} s: at most 4 a second, plus the last`)
  const received = progress.map((f) => f.payload.receivedBytes as number)
  t.same(received, [...received].sort((a, b) => a - b), 'receivedBytes only grows')
})

t.test('a flipped byte on disk fails the download cleanly: before the headers in the first chunk, by cutting the stream later', async (t) => {
  const size = 3 * CHUNK_BYTES + 100
  const { attachment } = await streamUpload(member, size, 'tamper')
  t.equal((await call(app, member, 'POST', `/groups/${groupId}/chat/messages`, { content: 'the tampered one', attachmentIds: [attachment.id] })).statusCode, 201)
  const path = await storedPathOf(attachment)
  t.equal((await streamDownload(owner, attachment.filePath)).status, 200, 'intact at first')

  const thirdChunk = HEADER_BYTES + 2 * (CHUNK_BYTES + TAG_BYTES) + 10
  await flipByteAt(path, thirdChunk)
  const cut = await streamDownload(owner, attachment.filePath)
  t.equal(cut.status, 200, 'the headers left with the first, good chunk')
  t.not(cut.error, null, 'the body is cut off instead of completing')
  t.ok(cut.bytes < size, `${cut.bytes} of ${size} bytes arrived`)
  t.ok(cut.bytes <= 2 * CHUNK_BYTES, 'nothing of the bad chunk was sent')

  await flipByteAt(path, HEADER_BYTES + 5)
  const res = await fetch(`${origin}${attachment.filePath}`, { headers: owner.auth })
  t.equal(res.status, 500, 'a bad first chunk fails before any header')
  t.match(await res.json(), { success: false, code: 'INTERNAL_ERROR' })

  const ranged = await fetch(`${origin}${attachment.filePath}`, { headers: { ...owner.auth, range: `bytes=${CHUNK_BYTES}-${2 * CHUNK_BYTES - 1}` } })
  t.equal(ranged.status, 206, 'a range within the intact chunks still serves')
  t.equal((await ranged.arrayBuffer()).byteLength, CHUNK_BYTES)
})
