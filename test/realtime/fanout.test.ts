import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { joined, seqsUntil } from '../helpers/ws.ts'

// Two instances of the app on the same database and Redis prefix: the bus carries events
// between them (DESIGN §6), membership changes end subscriptions everywhere (DESIGN §6).

const env = { RATE_LIMIT_SCALE: '1000' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

async function send (app: FastifyInstance, sender: TestUser, groupId: string, content: string): Promise<number> {
  return (await sendMessage(app, sender, groupId, content)).seq as number
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('a message sent on one instance reaches a subscriber on the other', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const onB = await joined(b, bob, groupId)
  t.teardown(async () => { await onB.close() })
  const onA = await joined(a, alice, groupId)
  t.teardown(async () => { await onA.close() })
  const ack = await onA.request('chat:send_message', { groupId, content: 'across' })
  const message = await onB.next('chat:message')
  t.equal(message.payload.id, ack.payload.messageId)
  t.equal(message.payload.seq, 1)
  t.match(ack.payload, { deliveredToCount: 1, queuedForCount: 0 }, 'Bob\'s connection on B counts as live')
})

t.test('concurrent sends on both instances reach subscribers on both in seq order, each once', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const watchers = [await joined(a, alice, groupId), await joined(b, bob, groupId), await joined(b, alice, groupId)]
  t.teardown(async () => { await Promise.all(watchers.map(async (w) => await w.close())) })
  const total = 60
  await Promise.all(range(1, total).map(async (i) => await send(i % 2 === 0 ? a : b, i % 3 === 0 ? alice : bob, groupId, `m${i}`)))
  for (const [i, watcher] of watchers.entries()) {
    t.same(await seqsUntil(watcher, total), range(1, total), `watcher ${i} saw 1..${total} in order`)
  }
})

t.test('the sending connection gets its ack and not its own chat:message; the sender\'s other connections get it on both instances', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const [sending, aliceElsewhereOnA, aliceOnB, bobOnB] = [await joined(a, alice, groupId), await joined(a, alice, groupId), await joined(b, alice, groupId), await joined(b, bob, groupId)]
  t.teardown(async () => { await Promise.all([sending, aliceElsewhereOnA, aliceOnB, bobOnB].map(async (c) => await c.close())) })
  const ack = await sending.request('chat:send_message', { groupId, content: 'from my phone', clientMessageId: 'phone-1' })
  t.match(ack, { type: 'chat:ack', payload: { clientMessageId: 'phone-1', seq: 1 } })
  for (const [name, client] of [['Alice\'s other connection on A', aliceElsewhereOnA], ['Alice on B', aliceOnB], ['Bob on B', bobOnB]] as const) {
    t.match((await client.next('chat:message')).payload, { id: ack.payload.messageId, clientMessageId: 'phone-1', senderUserId: alice.user.id, seq: 1 }, name)
  }
  t.ok(await sending.quiet('chat:message', 300), 'the sending connection has its ack instead')
  // The skipped seq still counts as seen there: the next message comes alone, no gap fill resends seq 1.
  await send(b, bob, groupId, 'reply')
  t.equal((await sending.next('chat:message')).payload.seq, 2)
  t.same(sending.frames.filter((f) => f.type === 'chat:message').map((f) => f.payload.seq), [2])
})

t.test('a message sent over REST reaches every connection of its sender, on both instances', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const [aliceOnA, aliceOnB] = [await joined(a, alice, groupId), await joined(b, alice, groupId)]
  t.teardown(async () => { await Promise.all([aliceOnA.close(), aliceOnB.close()]) })
  const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages`, headers: alice.auth, payload: { content: 'from the web', clientMessageId: 'web-1' } })
  t.equal(res.statusCode, 201)
  for (const client of [aliceOnA, aliceOnB]) {
    t.match((await client.next('chat:message')).payload, { senderUserId: alice.user.id, clientMessageId: 'web-1', seq: 1 })
  }
})

t.test('a member removed on one instance stops receiving on the other within a second and is told why', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const carol = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob, carol])
  const bobOnB = await joined(b, bob, groupId)
  const bobOnA = await joined(a, bob, groupId)
  const carolOnB = await joined(b, carol, groupId)
  t.teardown(async () => { await Promise.all([bobOnB.close(), bobOnA.close(), carolOnB.close()]) })

  const started = Date.now()
  const res = await a.inject({ method: 'DELETE', url: `${api}/groups/${groupId}/members/${bob.user.id}`, headers: alice.auth })
  t.equal(res.statusCode, 200)
  for (const client of [bobOnB, bobOnA]) {
    t.match((await client.next('chat:member_left', undefined, 1000)).payload, { groupId, userId: bob.user.id, reason: 'removed', removedBy: alice.user.id })
    t.same((await client.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'removed' })
  }
  t.ok(Date.now() - started < 1000, 'evicted within a second')
  t.equal(bobOnB.frames.filter((f) => f.type === 'chat:group_left').length, 1, 'told once, though both the group and the user heard it')
  // Carol, still a member, sees the departure and keeps receiving.
  t.match((await carolOnB.next('chat:member_left')).payload, { userId: bob.user.id })
  await send(a, alice, groupId, 'after the removal')
  t.equal((await carolOnB.next('chat:message')).payload.seq, 1)
  t.ok(await bobOnB.quiet('chat:message', 300), 'the removed member gets no more messages')
  t.same(b.gateway.connections().filter((c) => c.userId === bob.user.id).flatMap((c) => c.groups), [])
  // And their commands fail: the chat service checks membership on every command.
  const refused = await bobOnB.request('chat:send_message', { groupId, content: 'still here?' })
  t.match(refused.payload, { code: 'FORBIDDEN' })
  const rejoin = await bobOnB.request('chat:join_group', { groupId })
  t.match(rejoin.payload, { code: 'FORBIDDEN' })
})

t.test('a member who leaves is unsubscribed on every instance', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const bobOnB = await joined(b, bob, groupId)
  t.teardown(async () => { await bobOnB.close() })
  const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId}/leave`, headers: bob.auth })
  t.equal(res.statusCode, 200)
  t.same((await bobOnB.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'left' })
})

t.test('a deleted group ends every subscription to it', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const aliceOnB = await joined(b, alice, groupId)
  const bobOnA = await joined(a, bob, groupId)
  t.teardown(async () => { await Promise.all([aliceOnB.close(), bobOnA.close()]) })
  a.bus.publish({ groupId }, { type: 'chat:group_deleted', payload: { groupId } })
  for (const client of [aliceOnB, bobOnA]) {
    t.same((await client.next('chat:group_deleted', undefined, 1000)).payload, { groupId })
    t.same((await client.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'deleted' })
  }
})

t.test('a user blocked in a direct chat can no longer send over the socket', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const direct = await a.inject({ method: 'POST', url: `${api}/groups/direct/${bob.user.id}`, headers: alice.auth })
  const groupId = (direct.json().data as { group: { id: string } }).group.id
  const aliceOnB = await joined(b, alice, groupId)
  t.teardown(async () => { await aliceOnB.close() })
  t.equal((await aliceOnB.request('chat:send_message', { groupId, content: 'hi' })).type, 'chat:ack')
  const blocked = await a.inject({ method: 'POST', url: `${api}/users/${alice.user.id}/block`, headers: bob.auth })
  t.equal(blocked.statusCode, 200)
  const refused = await aliceOnB.request('chat:send_message', { groupId, content: 'hello?' })
  t.match(refused, { type: 'chat:error', payload: { code: 'FORBIDDEN' } })
})
