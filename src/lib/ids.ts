import { parse, v7 } from 'uuid'

/** A new UUIDv7: time-ordered, so primary-key inserts append to the index. */
export const newId = (): string => v7()

/** A UUID string as the BINARY(16) the database stores. */
export const toBin = (uuid: string): Buffer => Buffer.from(parse(uuid))

/** Two lowercase hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/**
 * A BINARY(16) column back to its UUID string. A table lookup per byte rather than uuid's
 * `stringify` (which validates its result with a regular expression) or a hex string sliced
 * into five: this runs for every id of every row read (a history page converts a few hundred),
 * and the database holds only UUIDs.
 */
export function fromBin (bin: Uint8Array): string {
  if (bin.length !== 16) throw new TypeError(`a UUID has 16 bytes, got ${bin.length}`)
  const h = HEX
  return (h[bin[0] as number] as string) + (h[bin[1] as number] as string) + (h[bin[2] as number] as string) + (h[bin[3] as number] as string) + '-' +
    (h[bin[4] as number] as string) + (h[bin[5] as number] as string) + '-' +
    (h[bin[6] as number] as string) + (h[bin[7] as number] as string) + '-' +
    (h[bin[8] as number] as string) + (h[bin[9] as number] as string) + '-' +
    (h[bin[10] as number] as string) + (h[bin[11] as number] as string) + (h[bin[12] as number] as string) +
    (h[bin[13] as number] as string) + (h[bin[14] as number] as string) + (h[bin[15] as number] as string)
}
