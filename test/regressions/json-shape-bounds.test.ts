import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { createChatGroup, sendMessage } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'
import { toBin } from '../../src/lib/ids.ts'
import { CHAT_LIMITS } from '../../schemas/chat.ts'

/*
 * Free-form JSON is bounded in depth and keys as well as in bytes: 5,000 levels of
 * `metadata.custom` in 10 KB overflowed the stack of the serializer and answered 500. And a
 * WebSocket frame may not carry the prototype keys a REST body may not carry.
 */

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

const nested = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels)
/** A send body as raw JSON, so that what is sent is exactly this text. */
const sendBody = (custom: string): string => `{"content":"deep","metadata":{"custom":${custom}}}`
const tooManyKeys = JSON.stringify(Object.fromEntries(Array.from({ length: CHAT_LIMITS.customMaxEntries + 1 }, (_, i) => [`k${i}`, i])))

async function post (g: { groupId: string, owner: { auth: { authorization: string } } }, path: string, body: string, method: 'POST' | 'PUT' = 'POST') {
  return await app.inject({
    method,
    url: `${app.config.apiPrefix}/groups/${g.groupId}/chat${path}`,
    headers: { ...g.owner.auth, 'content-type': 'application/json' },
    payload: body
  })
}

async function storedMessages (groupId: string): Promise<number> {
  const row = await app.db.selectFrom('mirror_group_messages').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  return Number(row.n)
}

t.test('metadata.custom nested 5,000 levels deep in 10 KB is a 400 VALIDATION_ERROR naming metadata.custom, on send and on edit', async (t) => {
  const g = await createChatGroup(app)
  const body = sendBody(nested(5000))
  t.ok(body.length < 40_000)
  const res = await post(g, '/messages', body)
  t.equal(res.statusCode, 400)
  t.match(res.json(), { success: false, code: 'VALIDATION_ERROR', validationErrors: [{ field: 'metadata.custom', message: /levels deep/ }] })
  t.equal(await storedMessages(g.groupId), 0, 'nothing stored')

  const m = await sendMessage(app, g.owner, g.groupId, 'edit me')
  const edit = await post(g, `/messages/${m.id}`, sendBody(nested(5000)), 'PUT')
  t.equal(edit.statusCode, 400)
  t.match(edit.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'metadata.custom' }] })
})

t.test('metadata.custom may nest 8 levels, not 9', async (t) => {
  const g = await createChatGroup(app)
  const ok = await post(g, '/messages', sendBody(nested(CHAT_LIMITS.customMaxDepth)))
  t.equal(ok.statusCode, 201)
  t.same(ok.json().data.message.metadata.custom, JSON.parse(nested(CHAT_LIMITS.customMaxDepth)))
  const deep = await post(g, '/messages', sendBody(nested(CHAT_LIMITS.customMaxDepth + 1)))
  t.equal(deep.statusCode, 400)
  t.match(deep.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'metadata.custom' }] })
  const arrays = await post(g, '/messages', sendBody(`{"list":${'['.repeat(CHAT_LIMITS.customMaxDepth)}${']'.repeat(CHAT_LIMITS.customMaxDepth)}}`))
  t.equal(arrays.statusCode, 400, 'arrays count as levels too')
})

t.test('metadata.custom with more than 200 keys and items is a 400 VALIDATION_ERROR naming metadata.custom', async (t) => {
  const g = await createChatGroup(app)
  const res = await post(g, '/messages', sendBody(tooManyKeys))
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'metadata.custom', message: /at most 200 keys/ }] })
  const items = await post(g, '/messages', sendBody(JSON.stringify({ list: Array(CHAT_LIMITS.customMaxEntries).fill(0) })))
  t.equal(items.statusCode, 400, 'array items count as entries')
})

t.test('over WebSocket, a deep or key-heavy metadata.custom gets chat:error VALIDATION_ERROR naming metadata.custom and stores nothing', async (t) => {
  const g = await createChatGroup(app)
  const ws = await connectWs(app, { token: g.owner.token })
  t.teardown(async () => { await ws.close() })
  for (const custom of [nested(5000), nested(CHAT_LIMITS.customMaxDepth + 1), tooManyKeys]) {
    ws.send(`{"type":"chat:send_message","requestId":"deep","payload":{"groupId":"${g.groupId}","content":"deep","metadata":{"custom":${custom}}}}`)
    const error = await ws.next(['chat:ack', 'chat:error'], (f) => f.requestId === 'deep')
    t.equal(error.type, 'chat:error')
    t.match(error.payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'metadata.custom' }] })
  }
  t.equal(await storedMessages(g.groupId), 0)
  t.equal((await ws.request('ping', {})).type, 'chat:ack', 'the connection stays usable')
})

const PROTOTYPE_KEYS = [
  { name: '__proto__', custom: '{"__proto__":{"isAdmin":true}}' },
  { name: '__proto__ spelled with escapes', custom: '{"\\u005f_proto__":{"isAdmin":true}}' },
  { name: 'constructor.prototype', custom: '{"x":[{"constructor":{"prototype":{"isAdmin":true}}}]}' }
]

t.test('a REST body with __proto__ or constructor.prototype keys is a 400 VALIDATION_ERROR', async (t) => {
  const g = await createChatGroup(app)
  for (const { name, custom } of PROTOTYPE_KEYS) {
    const res = await post(g, '/messages', sendBody(custom))
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR' }, name)
  }
  t.equal(await storedMessages(g.groupId), 0)
})

t.test('a WebSocket frame with __proto__ or constructor.prototype keys gets chat:error VALIDATION_ERROR with its requestId, as REST refuses them', async (t) => {
  const g = await createChatGroup(app)
  const ws = await connectWs(app, { token: g.owner.token })
  t.teardown(async () => { await ws.close() })
  const frames = [
    ...PROTOTYPE_KEYS.map(({ name, custom }) => ({
      name,
      text: `{"type":"chat:send_message","requestId":"proto","payload":{"groupId":"${g.groupId}","content":"x","metadata":{"custom":${custom}}}}`
    })),
    { name: '__proto__ at the top of the frame', text: '{"type":"ping","requestId":"proto","__proto__":{"type":"chat:leave_group"}}' }
  ]
  for (const { name, text } of frames) {
    ws.send(text)
    const error = await ws.next(['chat:ack', 'chat:error'], (f) => f.requestId === 'proto')
    t.equal(error.type, 'chat:error', name)
    t.match(error.payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'frame', message: /__proto__/ }] }, name)
  }
  t.equal(await storedMessages(g.groupId), 0)
  t.equal((await ws.request('ping', {})).type, 'chat:ack', 'the connection stays usable')
})

t.test('a constructor key that is not an object with a prototype is accepted on both transports, as on REST', async (t) => {
  const g = await createChatGroup(app)
  const custom = '{"constructor":"Widget","prototype":{"constructor":1}}'
  const res = await post(g, '/messages', sendBody(custom))
  t.equal(res.statusCode, 201)
  t.same(res.json().data.message.metadata.custom, JSON.parse(custom))
  const ws = await connectWs(app, { token: g.owner.token })
  t.teardown(async () => { await ws.close() })
  ws.send(`{"type":"chat:send_message","requestId":"fine","payload":{"groupId":"${g.groupId}","content":"x","metadata":{"custom":${custom}}}}`)
  t.equal((await ws.next(['chat:ack', 'chat:error'], (f) => f.requestId === 'fine')).type, 'chat:ack')
})
