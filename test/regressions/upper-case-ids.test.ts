import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs, joined } from '../helpers/ws.ts'

// Issue 9 §2: both validators accept upper-case UUIDs, but subscriptions, bus channels and
// evictions key groups by the string. `POST /groups/<ID IN UPPER CASE>/leave` left the member's
// live subscriptions in place and the others never saw chat:member_left. UUIDs are now
// lower-cased where they enter (DESIGN §6). Two instances share the database and Redis.

const env = { RATE_LIMIT_SCALE: '1000' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

const groupsOf = (app: FastifyInstance, user: TestUser): string[] =>
  app.gateway.connections().filter((c) => c.userId === user.user.id).flatMap((c) => c.groups)

async function threeInAGroup (): Promise<{ alice: TestUser, bob: TestUser, carol: TestUser, groupId: string }> {
  const [alice, bob, carol] = [await registerUser(a), await registerUser(a), await registerUser(a)]
  return { alice, bob, carol, groupId: await createGroup(a, alice, [bob, carol]) }
}

t.test('leaving with an upper-case group id ends the member\'s subscriptions on both instances within a second, and the others see chat:member_left', async (t) => {
  const { alice, bob, carol, groupId } = await threeInAGroup()
  const [bobOnA, bobOnB, carolOnB] = [await joined(a, bob, groupId), await joined(b, bob, groupId), await joined(b, carol, groupId)]
  t.teardown(async () => { await Promise.all([bobOnA.close(), bobOnB.close(), carolOnB.close()]) })

  const started = Date.now()
  const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId.toUpperCase()}/leave`, headers: bob.auth })
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { left: true, groupId })
  for (const client of [bobOnA, bobOnB]) {
    t.same((await client.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'left' })
  }
  t.ok(Date.now() - started < 1000, 'both subscriptions ended within a second')
  t.match((await carolOnB.next('chat:member_left', undefined, 1000)).payload, { groupId, userId: bob.user.id, reason: 'left' })
  t.same([...groupsOf(a, bob), ...groupsOf(b, bob)], [])
  await sendMessage(a, alice, groupId, 'after bob left')
  t.equal((await carolOnB.next('chat:message')).payload.groupId, groupId)
  t.ok(await bobOnB.quiet('chat:message', 300), 'the member who left receives nothing more')
})

t.test('removing a member with an upper-case group id ends their subscriptions on both instances within a second', async (t) => {
  const { alice, bob, carol, groupId } = await threeInAGroup()
  const [bobOnA, bobOnB, carolOnA] = [await joined(a, bob, groupId), await joined(b, bob, groupId), await joined(a, carol, groupId)]
  t.teardown(async () => { await Promise.all([bobOnA.close(), bobOnB.close(), carolOnA.close()]) })

  const started = Date.now()
  const res = await b.inject({ method: 'DELETE', url: `${api}/groups/${groupId.toUpperCase()}/members/${bob.user.id}`, headers: alice.auth })
  t.equal(res.statusCode, 200)
  for (const client of [bobOnA, bobOnB]) {
    t.same((await client.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'removed' })
  }
  t.ok(Date.now() - started < 1000, 'both subscriptions ended within a second')
  t.match((await carolOnA.next('chat:member_left', undefined, 1000)).payload, { groupId, userId: bob.user.id, reason: 'removed', removedBy: alice.user.id })
  t.same([...groupsOf(a, bob), ...groupsOf(b, bob)], [])
})

t.test('a chat:join_group with an upper-case group id is the same subscription as with the lower-case one', async (t) => {
  const { alice, bob, groupId } = await threeInAGroup()
  const bobOnB = await connectWs(b, { token: bob.token })
  t.teardown(async () => { await bobOnB.close() })
  await bobOnB.next('chat:sync')
  const ack = await bobOnB.request('chat:join_group', { groupId: groupId.toUpperCase() })
  t.match(ack, { type: 'chat:ack', payload: { groupId } })
  t.match((await bobOnB.next('chat:group_joined')).payload, { groupId })
  t.same(groupsOf(b, bob), [groupId])
  t.equal((await bobOnB.request('chat:join_group', { groupId })).type, 'chat:ack')
  t.same(groupsOf(b, bob), [groupId], 'joining again in lower case replaces it, no second subscription')
  await sendMessage(a, alice, groupId, 'to the subscription')
  t.match((await bobOnB.next('chat:message')).payload, { groupId })
  t.equal((await bobOnB.request('chat:leave_group', { groupId: groupId.toUpperCase() })).type, 'chat:ack')
  t.same(groupsOf(b, bob), [], 'leaving in upper case ends it')
})

t.test('a chat:send_message with upper-case ids is stored and announced under the lower-case ones, its content untouched', async (t) => {
  const { alice, bob, groupId } = await threeInAGroup()
  const parent = await sendMessage(a, alice, groupId, 'the parent')
  const bobOnB = await joined(b, bob, groupId)
  const aliceOnA = await connectWs(a, { token: alice.token })
  t.teardown(async () => { await Promise.all([bobOnB.close(), aliceOnA.close()]) })
  await aliceOnA.next('chat:sync')
  const shouting = 'F0F0F0F0-AAAA-4BBB-8CCC-DDDDDDDDDDDD'
  const ack = await aliceOnA.request('chat:send_message', {
    groupId: groupId.toUpperCase(), parentMessageId: parent.id.toUpperCase(), content: shouting, clientMessageId: shouting
  })
  t.equal(ack.type, 'chat:ack', JSON.stringify(ack.payload))
  const event = await bobOnB.next('chat:message')
  t.match(event.payload, { id: ack.payload.messageId, groupId, parentMessageId: parent.id, clientMessageId: shouting })
  const stored = await a.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/messages/${String(ack.payload.messageId)}`, headers: bob.auth })
  t.match(stored.json().data.message, { groupId, parentMessageId: parent.id, content: shouting, clientMessageId: shouting })
})

t.test('typing with an upper-case group id reaches the members subscribed to the group, over REST and WebSocket', async (t) => {
  const { alice, bob, groupId } = await threeInAGroup()
  const bobOnB = await joined(b, bob, groupId)
  const aliceOnA = await connectWs(a, { token: alice.token })
  t.teardown(async () => { await Promise.all([bobOnB.close(), aliceOnA.close()]) })
  await aliceOnA.next('chat:sync')
  aliceOnA.send({ type: 'chat:typing_start', payload: { groupId: groupId.toUpperCase() } })
  t.same((await bobOnB.next('chat:typing', undefined, 1000)).payload, { groupId, userId: alice.user.id, username: alice.user.username, isTyping: true })
  const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId.toUpperCase()}/chat/typing`, headers: alice.auth, payload: { isTyping: false } })
  t.same(res.json().data, { groupId, isTyping: false })
  t.match((await bobOnB.next('chat:typing', undefined, 1000)).payload, { groupId, isTyping: false })
})

t.test('the group service agrees: an upper-case id from another area names the same group', async (t) => {
  const { bob, groupId } = await threeInAGroup()
  const bobOnB = await joined(b, bob, groupId)
  t.teardown(async () => { await bobOnB.close() })
  t.match(await a.groupService.getMembership(groupId.toUpperCase(), bob.user.id), { groupId })
  await a.groupService.leaveGroup(groupId.toUpperCase(), bob.user.id)
  t.match((await bobOnB.next('chat:member_left', undefined, 1000)).payload, { groupId, userId: bob.user.id })
  t.same((await bobOnB.next('chat:group_left', undefined, 1000)).payload, { groupId, reason: 'left' })
})

t.test('every REST parameter that names a group or a message is declared format uuid, so it is normalised', async (t) => {
  const doc = a.swagger() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string, name: string, schema?: { format?: string } }> }>> }
  let checked = 0
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const name of ['groupId', 'messageId']) {
        if (!path.includes(`{${name}}`)) continue
        const parameter = operation.parameters?.find((p) => p.in === 'path' && p.name === name)
        t.equal(parameter?.schema?.format, 'uuid', `${method.toUpperCase()} ${path} declares ${name} as a uuid`)
        checked += 1
      }
    }
  }
  t.ok(checked > 30, `${checked} parameters checked`)
})
