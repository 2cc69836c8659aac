import { createCipheriv, createDecipheriv, hkdfSync, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { DecryptionError } from '../../lib/keyring.ts'

/*
 * Files sealed as they stream (DESIGN §6, encryption at rest): chunked AES-256-GCM in the
 * manner of the STREAM construction, so neither the upload nor the download ever holds more
 * than a chunk or two, and a download can start at any chunk.
 *
 *   header (40 bytes): 'PRLA' | format 1 | 3 zero bytes | key version u32 | chunk size u32
 *                      | salt (16 random bytes) | nonce prefix (8 random bytes)
 *   then every chunk:  ciphertext of `chunk size` plaintext bytes (fewer in the last) | GCM tag (16)
 *
 * The file key is HKDF-SHA256 of the group's data key (at the header's version) with the salt,
 * bound to the group, the attachment and the part (the file or its thumbnail), so no two files
 * share a key. Chunk i is sealed with the nonce `prefix | i` and the AAD `i | final`: a chunk
 * moved to another place, a file cut short at a chunk boundary (its last chunk is not marked
 * final) or any altered byte fails to authenticate. A file of zero bytes is one empty final chunk.
 */

export const SEALED_MAGIC = Buffer.from('PRLA', 'ascii')
export const SEALED_FORMAT = 1
export const HEADER_BYTES = 40
export const TAG_BYTES = 16
/** Plaintext bytes per chunk: big enough that the tag costs 0.02%, small enough to seek finely. */
export const CHUNK_BYTES = 64 * 1024
const SALT_BYTES = 16
const NONCE_PREFIX_BYTES = 8
const ALGORITHM = 'aes-256-gcm'

/** What a sealed file is of: the uploaded file itself, or the thumbnail made from it. */
export type SealedPart = 'file' | 'thumbnail'

/** Names the file a key is for; the same three values open it again. */
export interface SealedFileContext {
  groupId: string
  attachmentId: string
  part: SealedPart
}

interface FileHeader {
  keyVersion: number
  chunkBytes: number
  salt: Buffer
  noncePrefix: Buffer
}

function fileKey (dataKey: KeyObject, salt: Buffer, context: SealedFileContext): KeyObject {
  const info = Buffer.from(`parley:attachment:v1|${context.groupId}|${context.attachmentId}|${context.part}`, 'utf8')
  return createSecretKey(Buffer.from(hkdfSync('sha256', dataKey, salt, info, 32)))
}

function nonceOf (prefix: Buffer, index: number): Buffer {
  const nonce = Buffer.alloc(NONCE_PREFIX_BYTES + 4)
  prefix.copy(nonce, 0)
  nonce.writeUInt32BE(index, NONCE_PREFIX_BYTES)
  return nonce
}

function aadOf (index: number, final: boolean): Buffer {
  return Buffer.from(`${index}|${final ? 1 : 0}`, 'ascii')
}

function encodeHeader (header: FileHeader): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES)
  SEALED_MAGIC.copy(bytes, 0)
  bytes.writeUInt8(SEALED_FORMAT, 4)
  bytes.writeUInt32BE(header.keyVersion, 8)
  bytes.writeUInt32BE(header.chunkBytes, 12)
  header.salt.copy(bytes, 16)
  header.noncePrefix.copy(bytes, 32)
  return bytes
}

/** Reads a sealed file's header; DecryptionError when it is not one. */
export function decodeHeader (bytes: Buffer): FileHeader {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(SEALED_MAGIC) || bytes.readUInt8(4) !== SEALED_FORMAT) {
    throw new DecryptionError('Cannot decrypt the file: not a sealed attachment')
  }
  const chunkBytes = bytes.readUInt32BE(12)
  if (chunkBytes < 1 || chunkBytes > 16 * 1024 * 1024) throw new DecryptionError('Cannot decrypt the file: invalid chunk size')
  return {
    keyVersion: bytes.readUInt32BE(8),
    chunkBytes,
    salt: Buffer.from(bytes.subarray(16, 16 + SALT_BYTES)),
    noncePrefix: Buffer.from(bytes.subarray(32, 32 + NONCE_PREFIX_BYTES))
  }
}

/** How many chunks a file of `size` plaintext bytes is sealed in. */
export const chunkCountOf = (size: number, chunkBytes = CHUNK_BYTES): number => size === 0 ? 1 : Math.ceil(size / chunkBytes)

/** The size of the sealed file of `size` plaintext bytes. */
export const sealedSizeOf = (size: number, chunkBytes = CHUNK_BYTES): number => HEADER_BYTES + size + chunkCountOf(size, chunkBytes) * TAG_BYTES

/** Where chunk `index` starts in the sealed file. */
const chunkOffset = (index: number, chunkBytes: number): number => HEADER_BYTES + index * (chunkBytes + TAG_BYTES)

/**
 * A Transform that seals what flows through it under the group's data key: the header first,
 * then one sealed chunk per CHUNK_BYTES of input. It holds back the last full chunk until it
 * knows whether more follows, so the final flag is always right.
 */
export function createSealingStream (dataKey: KeyObject, keyVersion: number, context: SealedFileContext): Transform {
  const header: FileHeader = { keyVersion, chunkBytes: CHUNK_BYTES, salt: randomBytes(SALT_BYTES), noncePrefix: randomBytes(NONCE_PREFIX_BYTES) }
  const key = fileKey(dataKey, header.salt, context)
  let pending: Buffer[] = []
  let pendingBytes = 0
  let index = 0

  function seal (plaintext: Buffer, final: boolean): Buffer {
    const cipher = createCipheriv(ALGORITHM, key, nonceOf(header.noncePrefix, index), { authTagLength: TAG_BYTES })
    cipher.setAAD(aadOf(index, final))
    index += 1
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  }

  function take (bytes: number): Buffer {
    const all = pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending)
    const taken = all.subarray(0, bytes)
    const rest = all.subarray(bytes)
    pending = rest.length > 0 ? [rest] : []
    pendingBytes = rest.length
    return taken
  }

  return new Transform({
    construct (callback) {
      this.push(encodeHeader(header))
      callback()
    },
    transform (data: Buffer, _encoding, callback: TransformCallback) {
      pending.push(data)
      pendingBytes += data.length
      // Strictly more than a chunk: the chunk taken is then certainly not the last one.
      while (pendingBytes > CHUNK_BYTES) this.push(seal(take(CHUNK_BYTES), false))
      callback()
    },
    flush (callback: TransformCallback) {
      callback(null, seal(take(pendingBytes), true))
    }
  })
}

/** A range of plaintext bytes, both ends included. */
export interface PlainRange {
  start: number
  end: number
}

/** What the opening stream needs to read: the stored bytes to fetch, given the header. */
export interface OpeningPlan {
  /** The stored bytes holding the chunks of the range (both ends included). */
  storedStart: number
  storedEnd: number
  transform: Transform
}

/**
 * Plans the download of `range` of a sealed file of `size` plaintext bytes: which stored bytes
 * to read and a Transform that opens exactly those chunks and cuts them to the range. The
 * Transform fails (DecryptionError) at the first chunk that does not authenticate, including a
 * stream that ends early.
 */
export function planOpening (headerBytes: Buffer, dataKey: KeyObject, context: SealedFileContext, size: number, range: PlainRange): OpeningPlan {
  const header = decodeHeader(headerBytes)
  const { chunkBytes } = header
  const key = fileKey(dataKey, header.salt, context)
  const lastChunk = chunkCountOf(size, chunkBytes) - 1
  const first = Math.floor(range.start / chunkBytes)
  // An empty file is still one (empty, final) chunk, read and checked like any other.
  const last = size === 0 ? 0 : Math.min(Math.floor(range.end / chunkBytes), lastChunk)
  const plainLength = (i: number): number => i < lastChunk ? chunkBytes : size - lastChunk * chunkBytes
  let index = first
  let pending: Buffer[] = []
  let pendingBytes = 0

  function open (sealed: Buffer): Buffer {
    const final = index === lastChunk
    const decipher = createDecipheriv(ALGORITHM, key, nonceOf(header.noncePrefix, index), { authTagLength: TAG_BYTES })
    decipher.setAAD(aadOf(index, final))
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    let plain: Buffer
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()])
    } catch (err) {
      throw new DecryptionError(`Cannot decrypt chunk ${index} of attachment ${context.attachmentId}: it does not authenticate`, { cause: err })
    }
    // Cut the first and last chunks to the range.
    const from = index === first ? range.start - first * chunkBytes : 0
    const to = index === last ? range.end - last * chunkBytes + 1 : plain.length
    index += 1
    return from === 0 && to === plain.length ? plain : plain.subarray(from, to)
  }

  function nextSealedLength (): number {
    return plainLength(index) + TAG_BYTES
  }

  const transform = new Transform({
    transform (data: Buffer, _encoding, callback: TransformCallback) {
      pending.push(data)
      pendingBytes += data.length
      try {
        while (index <= last && pendingBytes >= nextSealedLength()) {
          const all = pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending)
          const length = nextSealedLength()
          const rest = all.subarray(length)
          pending = rest.length > 0 ? [rest] : []
          pendingBytes = rest.length
          this.push(open(all.subarray(0, length)))
        }
      } catch (err) {
        callback(err as Error)
        return
      }
      callback()
    },
    flush (callback: TransformCallback) {
      if (index <= last) {
        callback(new DecryptionError(`Cannot decrypt attachment ${context.attachmentId}: the stored file ends at chunk ${index} of ${last + 1}`))
        return
      }
      callback()
    }
  })
  return {
    storedStart: chunkOffset(first, chunkBytes),
    storedEnd: chunkOffset(last, chunkBytes) + plainLength(last) + TAG_BYTES - 1,
    transform
  }
}
