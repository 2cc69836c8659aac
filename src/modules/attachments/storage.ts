import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/** Stored bytes, both ends included. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * Where attachment bytes live: already sealed, so a store sees ciphertext only. Keys are
 * `<groupId>/<name>`: a group's files share a prefix, removed together when the group goes.
 * The local disk implements it now; an S3-compatible store maps put to a multipart upload
 * (aborted on failure), get to a ranged GetObject, and the prefixes to ListObjectsV2 with a
 * delimiter, without the attachment service changing.
 */
export interface AttachmentStorage {
  /**
   * Stores the stream under `key` and resolves to the bytes written. All or nothing: when the
   * source fails or is destroyed, nothing is left under the key.
   */
  put: (key: string, source: Readable) => Promise<number>
  /** The stored bytes, or a range of them; rejects with StoredFileMissing when there are none. */
  get: (key: string, range?: ByteRange) => Promise<Readable>
  /** Removes a file; a missing one is not an error. */
  delete: (key: string) => Promise<void>
  /** Removes every file under `<prefix>/`. */
  deletePrefix: (prefix: string) => Promise<void>
  /** The prefixes holding files (group ids), for the sweep of groups that are gone. */
  listPrefixes: () => Promise<string[]>
}

export class StoredFileMissing extends Error {
  override name = 'StoredFileMissing'
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const SEGMENT = new RegExp(`^${UUID}$`)
const KEY = new RegExp(`^(${UUID})/(${UUID}(?:\\.thumb)?)$`)

/** Keys are made by the service from UUIDs; anything else would be a path out of the directory. */
function pathOf (dir: string, key: string): string {
  const match = KEY.exec(key)
  if (match === null) throw new Error(`Invalid attachment storage key: ${key}`)
  return join(dir, match[1] as string, match[2] as string)
}

function prefixPathOf (dir: string, prefix: string): string {
  if (!SEGMENT.test(prefix)) throw new Error(`Invalid attachment storage prefix: ${prefix}`)
  return join(dir, prefix)
}

/**
 * Files under `dir`, one directory per group. A put writes a temporary file beside its target
 * and renames it into place once complete, so a reader never sees half a file and a failed
 * upload leaves nothing.
 */
export async function localDiskStorage (dir: string): Promise<AttachmentStorage> {
  await mkdir(dir, { recursive: true })

  return {
    async put (key, source) {
      const target = pathOf(dir, key)
      await mkdir(join(target, '..'), { recursive: true })
      const temporary = `${target}.${randomBytes(6).toString('hex')}.part`
      let written = 0
      source.on('data', (chunk: Buffer) => { written += chunk.length })
      try {
        await pipeline(source, createWriteStream(temporary, { flags: 'wx' }))
        await rename(temporary, target)
      } catch (err) {
        await unlink(temporary).catch(() => {})
        throw err
      }
      return written
    },

    async get (key, range) {
      const path = pathOf(dir, key)
      const stream = createReadStream(path, range === undefined ? {} : { start: range.start, end: range.end })
      // Opening is asynchronous: wait for it, so a missing file is an error here, not mid-stream.
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          reject(err.code === 'ENOENT' ? new StoredFileMissing(`No stored file ${key}`) : err)
        }
        stream.once('error', onError)
        stream.once('ready', () => {
          stream.off('error', onError)
          resolve()
        })
      })
      return stream
    },

    async delete (key) {
      await rm(pathOf(dir, key), { force: true })
    },

    async deletePrefix (prefix) {
      await rm(prefixPathOf(dir, prefix), { recursive: true, force: true })
    },

    async listPrefixes () {
      const entries = await readdir(dir, { withFileTypes: true })
      return entries.filter((e) => e.isDirectory() && SEGMENT.test(e.name)).map((e) => e.name)
    }
  }
}
