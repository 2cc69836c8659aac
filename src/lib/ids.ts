import { parse, stringify, v7 } from 'uuid'

/** A new UUIDv7: time-ordered, so primary-key inserts append to the index. */
export const newId = (): string => v7()

/** A UUID string as the BINARY(16) the database stores. */
export const toBin = (uuid: string): Buffer => Buffer.from(parse(uuid))

/** A BINARY(16) column back to its UUID string. */
export const fromBin = (bin: Uint8Array): string => stringify(bin)
