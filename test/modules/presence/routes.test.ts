import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { createGroup } from '../../helpers/api.ts'
import { connectWs } from '../../helpers/ws.ts'

// Seed 01 §4.5–4.6: typing and presence over HTTP, with the seed's shapes.
const app = await buildTestApp(t, import.meta.url, { env: { TYPING_TTL_MS: '300' } })
const api = app.config.apiPrefix
const unknownGroup = '0190a0a0-0000-7000-8000-000000000000'

t.test('POST typing answers {groupId, isTyping} and GET typing lists who is typing', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const start = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/typing`, headers: alice.auth, payload: { isTyping: true } })
  t.equal(start.statusCode, 200)
  t.match(start.json(), { success: true, data: { groupId, isTyping: true }, timestamp: String })
  const list = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.equal(list.statusCode, 200)
  const { typingUsers } = list.json().data as { typingUsers: Array<Record<string, unknown>> }
  t.equal(typingUsers.length, 1)
  t.same(Object.keys(typingUsers[0] ?? {}).sort(), ['groupId', 'isTyping', 'startedAt', 'userId', 'username'])
  t.match(typingUsers[0], { userId: alice.user.id, username: alice.user.username, groupId, isTyping: true })
  t.ok(!Number.isNaN(Date.parse(typingUsers[0]?.startedAt as string)))
  const stop = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/typing`, headers: alice.auth, payload: { isTyping: false } })
  t.same(stop.json().data, { groupId, isTyping: false })
  const after = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.same(after.json().data, { typingUsers: [] })
})

t.test('a typing start over REST is broadcast and expires on its own', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const watcher = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await watcher.close() })
  await watcher.request('chat:join_group', { groupId })
  await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/typing`, headers: alice.auth, payload: { isTyping: true } })
  t.match((await watcher.next('chat:typing')).payload, { userId: alice.user.id, isTyping: true })
  t.match((await watcher.next('chat:typing', undefined, 2000)).payload, { userId: alice.user.id, isTyping: false })
  const list = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.same(list.json().data, { typingUsers: [] })
})

t.test('POST presence answers {groupId, status, deviceType} and GET presence lists the members', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const update = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/presence`, headers: alice.auth, payload: { status: 'away', deviceType: 'desktop' } })
  t.equal(update.statusCode, 200)
  t.same(update.json().data, { groupId, status: 'away', deviceType: 'desktop' })
  const bare = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/presence`, headers: alice.auth, payload: { status: 'away' } })
  t.same(bare.json().data, { groupId, status: 'away' })

  const list = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: bob.auth })
  t.equal(list.statusCode, 200)
  const { presence } = list.json().data as { presence: Array<Record<string, unknown>> }
  t.equal(presence.length, 2)
  // A REST update is a sign of life: Alice shows as away; Bob never connected: offline.
  t.match(presence.find((p) => p.userId === alice.user.id), { userId: alice.user.id, username: alice.user.username, groupId, status: 'away', lastSeenAt: String, deviceType: 'desktop' })
  t.match(presence.find((p) => p.userId === bob.user.id), { userId: bob.user.id, username: bob.user.username, groupId, status: 'offline', lastSeenAt: String })
})

t.test('a connected member shows online in GET presence', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  await client.next('chat:sync')
  const list = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: alice.auth })
  const { presence } = list.json().data as { presence: Array<Record<string, unknown>> }
  t.match(presence.find((p) => p.userId === bob.user.id), { status: 'online' })
})

t.test('typing and presence routes are for members only: 403 for others, 404 for no such group, 401 without a token', async (t) => {
  const alice = await registerUser(app)
  const eve = await registerUser(app)
  const groupId = await createGroup(app, alice, [])
  const routes = [
    { method: 'POST' as const, path: 'typing', payload: { isTyping: true } },
    { method: 'GET' as const, path: 'typing' },
    { method: 'POST' as const, path: 'presence', payload: { status: 'online' } },
    { method: 'GET' as const, path: 'presence' }
  ]
  for (const route of routes) {
    const forbidden = await app.inject({ method: route.method, url: `${api}/groups/${groupId}/chat/${route.path}`, headers: eve.auth, payload: route.payload })
    t.equal(forbidden.statusCode, 403, `${route.method} ${route.path} as a non-member`)
    t.match(forbidden.json(), { success: false, code: 'FORBIDDEN' })
    const missing = await app.inject({ method: route.method, url: `${api}/groups/${unknownGroup}/chat/${route.path}`, headers: eve.auth, payload: route.payload })
    t.equal(missing.statusCode, 404, `${route.method} ${route.path} of no group`)
    const anonymous = await app.inject({ method: route.method, url: `${api}/groups/${groupId}/chat/${route.path}`, payload: route.payload })
    t.equal(anonymous.statusCode, 401, `${route.method} ${route.path} without a token`)
  }
})

t.test('bad typing and presence bodies answer 400 VALIDATION_ERROR with the fields', async (t) => {
  const alice = await registerUser(app)
  const groupId = await createGroup(app, alice, [])
  const typing = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/typing`, headers: alice.auth, payload: { isTyping: 'maybe' } })
  t.equal(typing.statusCode, 400)
  t.match(typing.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'isTyping' }] })
  const presence = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/presence`, headers: alice.auth, payload: { status: 'asleep', deviceType: 'toaster' } })
  t.equal(presence.statusCode, 400)
  const fields = (presence.json().validationErrors as Array<{ field: string }>).map((e) => e.field)
  t.ok(fields.includes('status'))
  const badId = await app.inject({ method: 'GET', url: `${api}/groups/not-a-uuid/chat/typing`, headers: alice.auth })
  t.equal(badId.statusCode, 400)
})
