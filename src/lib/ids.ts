import { parse, v7 } from 'uuid'

/** A new UUIDv7: time-ordered, so primary-key inserts append to the index. */
export const newId = (): string => v7()

/** A UUID string as the BINARY(16) the database stores. */
export const toBin = (uuid: string): Buffer => Buffer.from(parse(uuid))

/**
 * A BINARY(16) column back to its UUID string. Hex slicing rather than uuid's `stringify`,
 * which validates its result with a regular expression: this runs for every id of every row
 * read (a history page converts a few hundred), and the database holds only UUIDs.
 */
export function fromBin (bin: Uint8Array): string {
  if (bin.length !== 16) throw new TypeError(`a UUID has 16 bytes, got ${bin.length}`)
  const hex = Buffer.from(bin.buffer, bin.byteOffset, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
