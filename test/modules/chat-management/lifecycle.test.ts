import t from 'tap'
import { toBin } from '../../../src/lib/ids.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { call, createGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { connected } from '../../helpers/ws.ts'

// Group lifecycle and people (issue 11 point 10), on two instances of one database and Redis.

const env = { RATE_LIMIT_SCALE: '1000' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const MAX_GROUP_MEMBERS = a.config.groups.maxMembers

t.test('deleting a group chat is leaving it: ownership passes on, the last member out deletes the group', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  const bobOnB = await connected(b, bob)
  t.teardown(async () => { await bobOnB.close() })
  t.match(dataOf(await call(a, alice, 'DELETE', `/groups/${groupId}/chat`)), { groupId, left: true })
  t.equal((await call(a, alice, 'GET', `/groups/${groupId}`)).statusCode, 403, 'Alice is out')
  t.match(dataOf(await call(b, bob, 'GET', `/groups/${groupId}`)), { group: { myRole: 'owner', memberCount: 1 } }, 'Bob owns it now')
  dataOf(await call(b, bob, 'DELETE', `/groups/${groupId}/chat`))
  t.match((await bobOnB.next('chat:group_deleted')).payload, { groupId })
  t.equal((await call(b, bob, 'GET', `/groups/${groupId}`)).statusCode, 404, 'the group is gone')
})

t.test('the owner deletes a group for everyone: every member hears it on every instance, its messages and keys go', async (t) => {
  const [alice, bob, carol] = [await registerUser(a), await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob, carol])
  dataOf(await call(a, alice, 'PATCH', `/groups/${groupId}/members/${bob.user.id}`, { role: 'admin' }))
  await sendMessage(a, carol, groupId, 'soon gone')
  t.equal((await call(a, bob, 'DELETE', `/groups/${groupId}`)).statusCode, 403, 'an admin cannot')
  t.equal((await call(a, carol, 'DELETE', `/groups/${groupId}`)).statusCode, 403, 'a member cannot')
  const bobOnA = await connected(a, bob)
  await bobOnA.request('chat:join_group', { groupId })
  const carolOnB = await connected(b, carol)
  t.teardown(async () => { await Promise.all([bobOnA.close(), carolOnB.close()]) })

  t.same(dataOf(await call(a, alice, 'DELETE', `/groups/${groupId}`)), { deleted: true, groupId })
  t.same((await bobOnA.next('chat:group_deleted')).payload, { groupId, deletedBy: alice.user.id }, 'a subscriber on A')
  t.match((await bobOnA.next('chat:group_left')).payload, { groupId, reason: 'deleted' })
  t.same((await carolOnB.next('chat:group_deleted')).payload, { groupId, deletedBy: alice.user.id }, 'a member only connected, on B')
  t.ok(await bobOnA.quiet('chat:group_deleted', 200), 'told once')
  for (const user of [alice, bob, carol]) t.equal((await call(b, user, 'GET', `/groups/${groupId}`)).statusCode, 404)
  const bin = toBin(groupId)
  t.equal((await a.db.selectFrom('mirror_group_messages').select('id').where('group_id', '=', bin).execute()).length, 0, 'messages gone')
  t.equal((await a.db.selectFrom('group_data_keys').select('version').where('group_id', '=', bin).execute()).length, 0, 'keys gone')

  const { group: direct } = dataOf<{ group: { id: string } }>(await call(a, alice, 'POST', `/groups/direct/${bob.user.id}`))
  t.equal((await call(a, alice, 'DELETE', `/groups/${direct.id}`)).statusCode, 403, 'a direct chat is deleted per user, not for everyone')
})

t.test('a group\'s own member cap, at creation or by PATCH, never above the server\'s nor below its members', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(a), await registerUser(a), await registerUser(a), await registerUser(a)]
  t.equal((await call(a, alice, 'POST', '/groups', { name: 'Small', memberIds: [bob.user.id, carol.user.id], maxMembers: 2 })).statusCode, 409)
  t.equal((await call(a, alice, 'POST', '/groups', { name: 'Big', maxMembers: MAX_GROUP_MEMBERS + 1 })).statusCode, 400)
  const groupId = await createGroup(a, alice, [bob], { maxMembers: 2 })
  t.match(dataOf(await call(a, alice, 'GET', `/groups/${groupId}`)), { group: { maxMembers: 2 } })
  t.equal((await call(a, alice, 'POST', `/groups/${groupId}/members`, { userId: carol.user.id })).statusCode, 409, 'full')
  t.match(dataOf(await call(a, alice, 'PATCH', `/groups/${groupId}`, { maxMembers: 3 })), { group: { maxMembers: 3 } })
  dataOf(await call(a, alice, 'POST', `/groups/${groupId}/members`, { userId: carol.user.id }))
  t.equal((await call(a, alice, 'POST', `/groups/${groupId}/members`, { userId: dave.user.id })).statusCode, 409)
  t.equal((await call(a, alice, 'PATCH', `/groups/${groupId}`, { maxMembers: 2 })).statusCode, 409, 'not below the members it has')
  t.equal((await call(a, alice, 'PATCH', `/groups/${groupId}`, { maxMembers: MAX_GROUP_MEMBERS + 1 })).statusCode, 400)
  t.equal((await call(a, bob, 'PATCH', `/groups/${groupId}`, { maxMembers: 10 })).statusCode, 403, 'a member cannot')
  t.match(dataOf(await call(a, alice, 'PATCH', `/groups/${groupId}`, { maxMembers: null })), { group: { maxMembers: MAX_GROUP_MEMBERS } })
  dataOf(await call(a, alice, 'POST', `/groups/${groupId}/members`, { userId: dave.user.id }))
})

t.test('GET /presence tells who is online among the people I share a group with, and nothing of others', async (t) => {
  const [alice, bob, carol, stranger] = [await registerUser(a), await registerUser(a), await registerUser(a), await registerUser(a)]
  await createGroup(a, alice, [bob, carol])
  const bobOnB = await connected(b, bob)
  t.teardown(async () => { await bobOnB.close() })
  const ids = [bob.user.id, carol.user.id, stranger.user.id]
  const repeated = dataOf<{ presence: Array<{ userId: number, status: string, username: string }> }>(
    await a.inject({ method: 'GET', url: `${a.config.apiPrefix}/presence?${ids.map((id) => `userIds=${id}`).join('&')}`, headers: alice.auth }))
  t.same(repeated.presence.map((p) => [p.userId, p.status, p.username]), [[bob.user.id, 'online', bob.user.username], [carol.user.id, 'offline', carol.user.username]])
  const commas = dataOf<{ presence: Array<{ userId: number }> }>(await call(b, alice, 'GET', `/presence?userIds=${ids.join(',')}`))
  t.same(commas.presence.map((p) => p.userId), [bob.user.id, carol.user.id], 'the same with a comma list, on the other instance')
  t.same(dataOf(await call(a, stranger, 'GET', `/presence?userIds=${bob.user.id}`)), { presence: [] }, 'a stranger learns nothing')
  t.equal((await call(a, alice, 'GET', `/presence?userIds=${Array.from({ length: 101 }, (_, i) => i + 1).join(',')}`)).statusCode, 400)
  t.equal((await call(a, alice, 'GET', '/presence')).statusCode, 400)
})
