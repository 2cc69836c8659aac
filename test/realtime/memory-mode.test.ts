import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { connectWs, createGroup } from '../helpers/ws.ts'

// REDIS_URL=memory runs one instance without Redis (DESIGN §6): the gateway, presence and
// typing work the same on the in-process store.
const app = await buildTestApp(t, import.meta.url, { env: { REDIS_URL: 'memory', PRESENCE_GRACE_MS: '100', TYPING_TTL_MS: '200' } })
const api = app.config.apiPrefix

t.test('messages, typing and presence work on a single node without Redis', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const a = await connectWs(app, { token: alice.token })
  const b = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await b.close() })
  for (const client of [a, b]) t.match((await client.request('chat:join_group', { groupId })).payload, { success: true, subscriberCount: Number })
  const ack = await a.request('chat:send_message', { groupId, content: 'no redis' })
  t.match(ack.payload, { success: true, seq: 1, deliveredToCount: 1, queuedForCount: 0 })
  t.equal((await b.next('chat:message')).payload.seq, 1)
  a.send({ type: 'chat:typing_start', payload: { groupId } })
  t.match((await b.next('chat:typing')).payload, { userId: alice.user.id, isTyping: true })
  const typing = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.match(typing.json().data, { typingUsers: [{ userId: alice.user.id }] })
  t.match((await b.next('chat:typing', undefined, 2000)).payload, { userId: alice.user.id, isTyping: false })
  const presence = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: bob.auth })
  t.match((presence.json().data.presence as Array<{ userId: number }>).find((p) => p.userId === alice.user.id), { status: 'online' })
  await a.close()
  t.match((await b.next('chat:presence', (f) => f.payload.userId === alice.user.id && f.payload.status === 'offline', 2000)).payload, { status: 'offline' })
})
