import t from 'tap'
import { outboundFrame, outboundOf } from '../../src/realtime/outbound.ts'
import type { ServerFrame } from '../../schemas/ws.ts'

// Issue 16.1: frames are framed once as RFC 6455 unmasked final text frames.
function pongOf (size: number): ServerFrame {
  return { type: 'chat:error', payload: { error: 'x'.repeat(size), code: 'VALIDATION_ERROR' } }
}

t.test('the wire frame is a final unmasked text frame with the payload length encoded per RFC 6455', async (t) => {
  for (const size of [10, 200, 70_000]) {
    const frame = pongOf(size)
    const { json, wire } = outboundFrame(frame)
    t.equal(json.toString('utf8'), JSON.stringify(frame))
    t.equal(wire[0], 0x81, 'FIN and opcode 1 (text)')
    const lengthByte = wire[1] as number
    t.equal(lengthByte & 0x80, 0, 'not masked')
    const [length, headerLength] = lengthByte < 126
      ? [lengthByte, 2]
      : lengthByte === 126 ? [wire.readUInt16BE(2), 4] : [Number(wire.readBigUInt64BE(2)), 10]
    t.equal(length, json.length, `length of a ${size}-character payload`)
    t.ok(wire.subarray(headerLength).equals(json))
  }
})

t.test('the same frame object is serialized once', async (t) => {
  const frame = pongOf(5)
  t.equal(outboundOf(frame), outboundOf(frame))
  t.not(outboundOf(pongOf(5)), outboundOf(frame))
})
