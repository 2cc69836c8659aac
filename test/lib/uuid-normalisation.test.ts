import t from 'tap'
import { Type } from '@sinclair/typebox'
import { uuidNormaliser } from '../../src/lib/uuid-normalisation.ts'
import { sharedSchemas } from '../../schemas/index.ts'
import { SendMessageFrame } from '../../schemas/ws.ts'
import { frameUuidNormaliser } from '../../src/realtime/frames.ts'

// DESIGN §6: UUIDs are lower-cased where they enter, driven by the schemas' `format: 'uuid'`.

const UPPER = 'A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D'
const LOWER = UPPER.toLowerCase()
const byId = new Map(sharedSchemas.map((schema) => [schema.$id, schema]))
const resolve = (id: string): unknown => byId.get(id)

t.test('every field of format uuid is lower-cased, through $ref, allOf, anyOf, nesting and arrays', async (t) => {
  const Shared = Type.String({ format: 'uuid', $id: 'SharedUuidForTest' })
  const schema = Type.Object({
    direct: Type.String({ format: 'uuid' }),
    viaRef: Type.Ref('SharedUuidForTest'),
    nullable: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    list: Type.Array(Type.String({ format: 'uuid' })),
    nested: Type.Intersect([Type.Object({ groupId: Type.String({ format: 'uuid' }) }), Type.Object({ items: Type.Array(Type.Object({ id: Type.String({ format: 'uuid' }) })) })])
  })
  const normalise = uuidNormaliser(schema, (id) => id === Shared.$id ? Shared : undefined)
  if (normalise === null) throw new Error('the schema declares UUIDs')
  const value = { direct: UPPER, viaRef: UPPER, nullable: UPPER, list: [UPPER, UPPER], nested: { groupId: UPPER, items: [{ id: UPPER }] } }
  t.same(normalise(value), { direct: LOWER, viaRef: LOWER, nullable: LOWER, list: [LOWER, LOWER], nested: { groupId: LOWER, items: [{ id: LOWER }] } })
})

t.test('strings without format uuid, records and values that are not UUIDs stay as they came', async (t) => {
  const schema = Type.Object({
    groupId: Type.String({ format: 'uuid' }),
    content: Type.String(),
    custom: Type.Record(Type.String(), Type.Unknown())
  })
  const normalise = uuidNormaliser(schema, resolve)
  if (normalise === null) throw new Error('the schema declares a UUID')
  const value = { groupId: 'NOT-A-UUID', content: UPPER, custom: { ref: UPPER }, extra: UPPER }
  t.same(normalise(value), { groupId: 'NOT-A-UUID', content: UPPER, custom: { ref: UPPER }, extra: UPPER })
  t.equal(normalise('anything'), 'anything', 'a value of the wrong shape is left to the validator')
  t.equal(normalise(null), null)
})

t.test('a schema that declares no UUID has no normaliser, so its inputs cost nothing', async (t) => {
  t.equal(uuidNormaliser(Type.Object({ content: Type.String(), count: Type.Integer() }), resolve), null)
})

t.test('a recursive schema is planned without looping', async (t) => {
  const Node = Type.Object({ id: Type.String({ format: 'uuid' }), children: Type.Array(Type.Ref('TreeNodeForTest')) }, { $id: 'TreeNodeForTest' })
  const normalise = uuidNormaliser(Type.Ref('TreeNodeForTest'), () => Node)
  if (normalise === null) throw new Error('the schema declares a UUID')
  t.same(normalise({ id: UPPER, children: [] }), { id: LOWER, children: [] })
})

t.test('a chat:send_message frame has its group and parent ids lower-cased, never its content or clientMessageId', async (t) => {
  const normalise = frameUuidNormaliser(SendMessageFrame)
  if (normalise === null) throw new Error('the frame declares UUIDs')
  const frame = { type: 'chat:send_message', requestId: UPPER, payload: { groupId: UPPER, parentMessageId: UPPER, content: UPPER, clientMessageId: UPPER, metadata: { custom: { id: UPPER } } } }
  normalise(frame)
  t.same(frame, { type: 'chat:send_message', requestId: UPPER, payload: { groupId: LOWER, parentMessageId: LOWER, content: UPPER, clientMessageId: UPPER, metadata: { custom: { id: UPPER } } } })
})

t.test('an unknown $ref is a programming error, found when the schema is planned', async (t) => {
  t.throws(() => uuidNormaliser(Type.Ref('Nowhere'), resolve), /no schema Nowhere/)
})

t.test('fromBin gives the lower-case UUID of any 16 bytes, and refuses other lengths', async (t) => {
  const { fromBin, toBin } = await import('../../src/lib/ids.ts')
  const id = '0190f3c2-7a1b-7c3d-8e4f-a0b1c2d3e4f5'
  t.equal(fromBin(toBin(id)), id)
  t.equal(fromBin(toBin(id.toUpperCase())), id)
  const inLargerBuffer = Buffer.concat([Buffer.from([1, 2, 3]), toBin(id)]).subarray(3)
  t.equal(fromBin(inLargerBuffer), id, 'a view into a larger buffer reads its own 16 bytes')
  t.throws(() => fromBin(Buffer.alloc(15)), TypeError)
})
