import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'
import { toBin } from '../../src/lib/ids.ts'
import { until } from '../helpers/wait.ts'

// DESIGN §5–6: the send ack tells how many recipients were reachable; delivered watermarks
// advance as connections receive messages; user-addressed events reach every device.
const env = { RATE_LIMIT_SCALE: '100' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })

async function deliveredSeq (app: FastifyInstance, groupId: string, user: TestUser): Promise<number> {
  const row = await app.db.selectFrom('mirror_group_members').select('last_delivered_seq')
    .where('group_id', '=', toBin(groupId)).where('user_id', '=', user.user.id).executeTakeFirstOrThrow()
  return Number(row.last_delivered_seq)
}

t.test('the send ack counts recipients subscribed to the group on any instance as delivered and the others as queued', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const carol = await registerUser(a)
  const dave = await registerUser(a)
  const erin = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob, carol, dave, erin])
  const sender = await connectWs(a, { token: alice.token })
  const alicesPhone = await connectWs(b, { token: alice.token })
  // Bob joined on the other instance, Carol on this one; Erin is connected without having
  // joined the group (she gets it on her next join or sync); Dave is away.
  const bobOnB = await connectWs(b, { token: bob.token })
  const carolOnA = await connectWs(a, { token: carol.token })
  const erinOnB = await connectWs(b, { token: erin.token })
  t.teardown(async () => { await Promise.all([sender, alicesPhone, bobOnB, carolOnA, erinOnB].map(async (c) => await c.close())) })
  await erinOnB.next('chat:sync')
  for (const client of [alicesPhone, bobOnB, carolOnA]) await client.request('chat:join_group', { groupId })
  const ack = await sender.request('chat:send_message', { groupId, content: 'who is there?' })
  t.match(ack.payload, { success: true, deliveredToCount: 2, queuedForCount: 2 }, 'the sender\'s own phone is not a recipient')
  // A second connection of a subscribed user counts once; leaving ends the count on every instance.
  const bobsTablet = await connectWs(a, { token: bob.token })
  t.teardown(async () => { await bobsTablet.close() })
  await bobsTablet.request('chat:join_group', { groupId })
  t.match((await sender.request('chat:send_message', { groupId, content: 'again' })).payload, { deliveredToCount: 2, queuedForCount: 2 })
  await carolOnA.request('chat:leave_group', { groupId })
  t.match((await sender.request('chat:send_message', { groupId, content: 'and again' })).payload, { deliveredToCount: 1, queuedForCount: 3 })
})

t.test('delivered watermarks advance as connections receive messages, on any instance', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const carol = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob, carol])
  const bobOnB = await connectWs(b, { token: bob.token })
  t.teardown(async () => { await bobOnB.close() })
  await bobOnB.request('chat:join_group', { groupId })
  for (let i = 0; i < 3; i++) await sendMessage(a, alice, groupId, `m${i}`)
  for (let i = 0; i < 3; i++) await bobOnB.next('chat:message')
  await until(async () => await deliveredSeq(a, groupId, bob) === 3)
  t.equal(await deliveredSeq(a, groupId, bob), 3, 'Bob received up to seq 3')
  t.equal(await deliveredSeq(a, groupId, carol), 0, 'Carol, not connected, received nothing')
  // A replay delivers too.
  const carolOnA = await connectWs(a, { token: carol.token })
  t.teardown(async () => { await carolOnA.close() })
  carolOnA.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 1 } })
  await carolOnA.next('chat:message')
  await carolOnA.next('chat:message')
  await until(async () => await deliveredSeq(a, groupId, carol) === 3)
  t.pass('the replay to Carol moved her watermark to 3')
})

t.test('events addressed to a user reach each of their connections on every instance', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const sent = await sendMessage(a, alice, groupId, 'read me')
  const laptop = await connectWs(a, { token: bob.token })
  const phone = await connectWs(b, { token: bob.token })
  t.teardown(async () => { await Promise.all([laptop.close(), phone.close()]) })
  await Promise.all([laptop.next('chat:sync'), phone.next('chat:sync')])
  t.match((await laptop.request('chat:mark_read', { groupId, messageId: sent.id })).payload, { success: true })
  t.same((await phone.next('chat:unread_count')).payload, { groupId, unreadCount: 0 })
  t.same((await laptop.next('chat:unread_count')).payload, { groupId, unreadCount: 0 })
})
