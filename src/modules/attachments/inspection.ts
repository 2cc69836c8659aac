import { Transform, type TransformCallback } from 'node:stream'
import { AppError } from '../../lib/app-error.ts'
import type { Clock } from '../../lib/clock.ts'
import { ALLOWED_TYPES, SNIFF_BYTES, THUMBNAIL_TYPES, sniffType } from './file-types.ts'

/** Images up to this size are kept in memory while they stream, for sharp; larger ones get no thumbnail. */
export const IMAGE_PROCESS_MAX_BYTES = 12 * 1024 * 1024

export interface InspectionOptions {
  maxBytes: number
  clock: Clock
  /** The shortest time between two progress reports. */
  progressIntervalMs: number
  onProgress: (receivedBytes: number) => void
}

/** What the inspection found, once the stream has ended. */
export interface Inspection {
  stream: Transform
  receivedBytes: () => number
  /** The sniffed type; null until the first bytes (or the end) arrived. */
  mimeType: () => string | null
  /** The whole file when it is an image small enough to process, else null. */
  image: () => Buffer | null
}

/**
 * The first stage of an upload: counts the bytes (refusing the file with 413 the moment it
 * passes the limit), holds back the first SNIFF_BYTES until the type is known from them
 * (refusing a type off the allowlist with 415 before anything is stored), reports progress,
 * and keeps a copy of a small image for the thumbnail. Never holds more than the sniffing head
 * (or a small image).
 */
export function inspectUpload (options: InspectionOptions): Inspection {
  let received = 0
  let head: Buffer[] = []
  let headBytes = 0
  let mime: string | null = null
  let imageParts: Buffer[] | null = null
  let lastReport = options.clock.now()

  async function decide (stream: Transform): Promise<void> {
    const sample = Buffer.concat(head)
    const sniffed = await sniffType(sample.subarray(0, SNIFF_BYTES))
    if (sniffed === null || !ALLOWED_TYPES.has(sniffed)) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'This type of file cannot be attached', { detectedType: sniffed ?? 'unknown' })
    }
    mime = sniffed
    if (THUMBNAIL_TYPES.has(sniffed)) imageParts = [sample]
    head = []
    stream.push(sample)
  }

  function keepImagePart (data: Buffer): void {
    if (imageParts === null) return
    if (received > IMAGE_PROCESS_MAX_BYTES) imageParts = null
    else imageParts.push(data)
  }

  function report (): void {
    const now = options.clock.now()
    if (now - lastReport < options.progressIntervalMs) return
    lastReport = now
    options.onProgress(received)
  }

  const stream = new Transform({
    transform (data: Buffer, _encoding, callback: TransformCallback) {
      received += data.length
      if (received > options.maxBytes) {
        callback(new AppError('PAYLOAD_TOO_LARGE', `A file can be at most ${options.maxBytes} bytes`, { maxBytes: options.maxBytes }))
        return
      }
      report()
      if (mime !== null) {
        keepImagePart(data)
        callback(null, data)
        return
      }
      head.push(data)
      headBytes += data.length
      if (headBytes < SNIFF_BYTES) {
        callback()
        return
      }
      decide(this).then(() => { callback() }, (err: Error) => { callback(err) })
    },
    flush (callback: TransformCallback) {
      if (mime !== null) {
        callback()
        return
      }
      decide(this).then(() => { callback() }, (err: Error) => { callback(err) })
    }
  })

  return {
    stream,
    receivedBytes: () => received,
    mimeType: () => mime,
    image: () => imageParts === null ? null : Buffer.concat(imageParts)
  }
}
