import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ServerEvent } from '../../../schemas/events.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { addMember, call, createGroup } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users and groups.
const app = await buildTestApp(t, import.meta.url)

/** Sets when a member joined, so "longest-standing" does not depend on the clock. */
async function setJoinedAt (app: FastifyInstance, groupId: string, member: TestUser, iso: string): Promise<void> {
  await app.db.updateTable('mirror_group_members').set({ joined_at: new Date(iso) })
    .where('group_id', '=', toBin(groupId)).where('user_id', '=', member.user.id).execute()
}

async function roles (app: FastifyInstance, as: TestUser, groupId: string): Promise<Record<number, string>> {
  const res = await call(app, as, 'GET', `/groups/${groupId}/members`)
  return Object.fromEntries((res.json().data.members as Array<{ userId: number, role: string }>).map((m) => [m.userId, m.role]))
}

t.test('a member leaves: {left: true}, the group and their sessions hear it, and they lose access', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const groupEvents: ServerEvent[] = []
  const bobsEvents: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { groupEvents.push(event) }))
  t.teardown(app.bus.subscribe({ userId: bob.user.id }, (event) => { bobsEvents.push(event) }))
  const res = await call(app, bob, 'POST', `/groups/${groupId}/leave`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { left: true, groupId })
  const left = { type: 'chat:member_left', payload: { groupId, userId: bob.user.id, reason: 'left', removedBy: null } }
  t.same(groupEvents, [left])
  // Bob's being added notified him too (issue 12), whenever the worker got to it.
  t.same(bobsEvents.filter((event) => event.type !== 'notification'), [left])
  t.equal((await call(app, bob, 'GET', `/groups/${groupId}`)).statusCode, 403)
  t.same(await roles(app, alice, groupId), { [alice.user.id]: 'owner' })
})

t.test('when the owner leaves, the longest-standing admin becomes owner, not an older member', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [bob])
  await addMember(app, alice, groupId, carol, 'admin')
  await addMember(app, alice, groupId, dave, 'admin')
  await setJoinedAt(app, groupId, bob, '2024-01-01T00:00:00.000Z')
  await setJoinedAt(app, groupId, dave, '2024-02-01T00:00:00.000Z')
  await setJoinedAt(app, groupId, carol, '2024-03-01T00:00:00.000Z')
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const res = await call(app, alice, 'POST', `/groups/${groupId}/leave`)
  t.equal(res.statusCode, 200)
  t.same(await roles(app, bob, groupId), { [bob.user.id]: 'member', [carol.user.id]: 'admin', [dave.user.id]: 'owner' })
  t.same(events, [
    { type: 'chat:member_left', payload: { groupId, userId: alice.user.id, reason: 'left', removedBy: null } },
    { type: 'chat:member_role_changed', payload: { groupId, userId: dave.user.id, role: 'owner', changedBy: alice.user.id } }
  ])
})

t.test('when the owner leaves a group without admins, the longest-standing member becomes owner', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [bob, carol])
  // carol has the higher user id but joined first: joining time decides.
  await setJoinedAt(app, groupId, carol, '2024-01-01T00:00:00.000Z')
  await setJoinedAt(app, groupId, bob, '2024-01-02T00:00:00.000Z')
  t.equal((await call(app, alice, 'POST', `/groups/${groupId}/leave`)).statusCode, 200)
  t.same(await roles(app, bob, groupId), { [bob.user.id]: 'member', [carol.user.id]: 'owner' })
})

t.test('members who joined at the same moment inherit ownership by lowest user id', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [carol, bob])
  t.equal((await call(app, alice, 'POST', `/groups/${groupId}/leave`)).statusCode, 200)
  t.same(await roles(app, bob, groupId), { [bob.user.id]: 'owner', [carol.user.id]: 'member' })
})

t.test('the last member leaving deletes the group and the group hears chat:group_deleted', async (t) => {
  const alice = await registerUser(app)
  const groupId = await createGroup(app, alice)
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const res = await call(app, alice, 'POST', `/groups/${groupId}/leave`)
  t.equal(res.statusCode, 200)
  t.same(events.map((e) => e.type), ['chat:member_left', 'chat:group_deleted'])
  t.same(events[1], { type: 'chat:group_deleted', payload: { groupId } })
  const row = await app.db.selectFrom('mirror_groups').select('id').where('id', '=', toBin(groupId)).executeTakeFirst()
  t.equal(row, undefined, 'the group row is gone')
  t.equal((await call(app, alice, 'GET', `/groups/${groupId}`)).statusCode, 404)
})

t.test('a deleted group takes its messages and their search index with it', async (t) => {
  const alice = await registerUser(app)
  const groupId = await createGroup(app, alice)
  const sent = await call(app, alice, 'POST', `/groups/${groupId}/chat/messages`, { content: 'searchable words before the end' })
  t.equal(sent.statusCode, 201)
  const tokensOf = async (): Promise<number> => (await app.db.selectFrom('mirror_group_message_search_tokens').select('token')
    .where('group_id', '=', toBin(groupId)).execute()).length
  t.ok(await tokensOf() > 0, 'the message was indexed')
  t.equal((await call(app, alice, 'POST', `/groups/${groupId}/leave`)).statusCode, 200)
  t.equal(await tokensOf(), 0, 'no token row outlives the group')
  const messages = await app.db.selectFrom('mirror_group_messages').select('id').where('group_id', '=', toBin(groupId)).execute()
  t.equal(messages.length, 0)
})

t.test('everyone leaving at once deletes the group exactly once', async (t) => {
  const owner = await registerUser(app)
  const members = [await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, owner, members)
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const responses = await Promise.all([owner, ...members].map((u) => call(app, u, 'POST', `/groups/${groupId}/leave`)))
  t.same(responses.map((r) => r.statusCode), [200, 200, 200, 200, 200, 200])
  t.equal(events.filter((e) => e.type === 'chat:group_deleted').length, 1)
  t.equal(events.filter((e) => e.type === 'chat:member_left').length, 6)
  const row = await app.db.selectFrom('mirror_groups').select('id').where('id', '=', toBin(groupId)).executeTakeFirst()
  t.equal(row, undefined)
})

t.test('the owner and the only admin leaving at once leave exactly one owner', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [carol, dave])
  await addMember(app, alice, groupId, bob, 'admin')
  const responses = await Promise.all([alice, bob].map((u) => call(app, u, 'POST', `/groups/${groupId}/leave`)))
  t.same(responses.map((r) => r.statusCode), [200, 200])
  const remaining = await roles(app, carol, groupId)
  t.same(Object.keys(remaining).map(Number).sort((a, b) => a - b), [carol.user.id, dave.user.id].sort((a, b) => a - b))
  t.equal(Object.values(remaining).filter((r) => r === 'owner').length, 1)
})

t.test('DELETE /groups/:groupId/members/<self> is leaving, ownership handover included', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [bob])
  const res = await call(app, alice, 'DELETE', `/groups/${groupId}/members/${alice.user.id}`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { removed: true, userId: alice.user.id })
  t.same(await roles(app, bob, groupId), { [bob.user.id]: 'owner' })
})

t.test('a non-member cannot leave (403)', async (t) => {
  const [alice, mallory] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice)
  const res = await call(app, mallory, 'POST', `/groups/${groupId}/leave`)
  t.equal(res.statusCode, 403)
  t.same(await roles(app, alice, groupId), { [alice.user.id]: 'owner' })
})
