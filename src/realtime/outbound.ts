import type { ServerFrame } from '../../schemas/ws.ts'

/*
 * Server frames serialized once, however many sockets they go to (issue 16.1): the JSON is
 * encoded to bytes once and framed once as an unmasked, unfragmented WebSocket text frame
 * (RFC 6455 §5.2; the server never masks, and permessage-deflate is off), so a delivery is one
 * write of a shared Buffer. No per-subscriber JSON, string encoding or header allocation.
 */

/** A serialized server frame: its JSON bytes and its complete WebSocket frame. */
export interface OutboundFrame {
  /** The frame's JSON as UTF-8. */
  readonly json: Buffer
  /** The WebSocket text frame (header + json), written as is to every socket. */
  readonly wire: Buffer
}

const TEXT_FINAL = 0x81

/** The RFC 6455 header of an unmasked final text frame of `length` payload bytes. */
function textFrameHeader (length: number): Buffer {
  if (length < 126) return Buffer.from([TEXT_FINAL, length])
  if (length < 65536) {
    const header = Buffer.allocUnsafe(4)
    header[0] = TEXT_FINAL
    header[1] = 126
    header.writeUInt16BE(length, 2)
    return header
  }
  const header = Buffer.allocUnsafe(10)
  header[0] = TEXT_FINAL
  header[1] = 127
  header.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
  header.writeUInt32BE(length >>> 0, 6)
  return header
}

/** Serializes and frames a server frame. */
export function outboundFrame (frame: ServerFrame): OutboundFrame {
  const text = JSON.stringify(frame)
  const length = Buffer.byteLength(text, 'utf8')
  const header = textFrameHeader(length)
  const wire = Buffer.allocUnsafe(header.length + length)
  header.copy(wire, 0)
  wire.write(text, header.length, 'utf8')
  return { json: wire.subarray(header.length), wire }
}

const cache = new WeakMap<object, OutboundFrame>()

/** The frame's serialization, made on first use and shared by every later sender of the same object. */
export function outboundOf (frame: ServerFrame): OutboundFrame {
  let outbound = cache.get(frame)
  if (outbound === undefined) {
    outbound = outboundFrame(frame)
    cache.set(frame, outbound)
  }
  return outbound
}
