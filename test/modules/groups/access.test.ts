import t from 'tap'
import type { ServerEvent } from '../../../schemas/events.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { call, createGroup } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users and groups.
// A small member limit (MAX_GROUP_MEMBERS) keeps the test that fills a group quick.
const app = await buildTestApp(t, import.meta.url, { env: { MAX_GROUP_MEMBERS: '300' } })
const MAX_GROUP_MEMBERS = app.config.groups.maxMembers

t.test('a member reads the group', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team', memberIds: [bob.user.id] })
  const res = await call(app, bob, 'GET', `/groups/${groupId}`)
  t.equal(res.statusCode, 200)
  t.match(res.json().data.group, { id: groupId, name: 'Team', myRole: 'member', memberCount: 2 })
})

t.test('a non-member reading a group gets 403', async (t) => {
  const alice = await registerUser(app)
  const mallory = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Private' })
  for (const path of [`/groups/${groupId}`, `/groups/${groupId}/members`]) {
    const res = await call(app, mallory, 'GET', path)
    t.equal(res.statusCode, 403, path)
    t.match(res.json(), { success: false, code: 'FORBIDDEN' })
  }
})

t.test('an unknown group answers 404 and a malformed group id 400', async (t) => {
  const alice = await registerUser(app)
  const unknown = await call(app, alice, 'GET', '/groups/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { code: 'NOT_FOUND' })
  const malformed = await call(app, alice, 'GET', '/groups/not-a-uuid')
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'groupId' }] })
})

t.test('a member cannot update the group (403)', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team', memberIds: [bob.user.id] })
  const res = await call(app, bob, 'PATCH', `/groups/${groupId}`, { name: 'Bob rules' })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { code: 'FORBIDDEN' })
  t.equal((await call(app, alice, 'GET', `/groups/${groupId}`)).json().data.group.name, 'Team')
})

t.test('an admin updates the group (200) and the group hears chat:group_updated', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team', description: 'old', memberIds: [bob.user.id] })
  await call(app, alice, 'PATCH', `/groups/${groupId}/members/${bob.user.id}`, { role: 'admin' })
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const res = await call(app, bob, 'PATCH', `/groups/${groupId}`, { name: 'New name', description: null, avatarUrl: 'https://example.com/n.png' })
  t.equal(res.statusCode, 200)
  const group = res.json().data.group
  t.match(group, { name: 'New name', description: null, avatarUrl: 'https://example.com/n.png', myRole: 'admin' })
  t.same(events, [{ type: 'chat:group_updated', payload: { groupId, updatedBy: bob.user.id, updatedAt: group.updatedAt } }])
})

t.test('the owner updates the group; an empty update changes nothing and announces nothing', async (t) => {
  const alice = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team' })
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const empty = await call(app, alice, 'PATCH', `/groups/${groupId}`, {})
  t.equal(empty.statusCode, 200)
  t.equal(empty.json().data.group.name, 'Team')
  t.same(events, [])
  const renamed = await call(app, alice, 'PATCH', `/groups/${groupId}`, { name: 'Renamed' })
  t.equal(renamed.statusCode, 200)
  t.equal(renamed.json().data.group.name, 'Renamed')
  t.equal(events.length, 1)
})

t.test('PATCH /groups/:groupId refuses bad input with 400', async (t) => {
  const alice = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team' })
  for (const payload of [{ name: '' }, { name: 'n'.repeat(101) }, { description: 'd'.repeat(1001) }, { avatarUrl: 'file:///etc/passwd' }, { type: 'public' }]) {
    const res = await call(app, alice, 'PATCH', `/groups/${groupId}`, payload)
    t.equal(res.statusCode, 400, Object.keys(payload).join())
    t.match(res.json(), { code: 'VALIDATION_ERROR' })
  }
})

t.test('anyone joins a public group as a member, and the group and their sessions hear it', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Town square', type: 'public' })
  const groupEvents: ServerEvent[] = []
  const bobsEvents: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { groupEvents.push(event) }))
  t.teardown(app.bus.subscribe({ userId: bob.user.id }, (event) => { bobsEvents.push(event) }))
  const res = await call(app, bob, 'POST', `/groups/${groupId}/join`)
  t.equal(res.statusCode, 200)
  t.match(res.json().data.group, { id: groupId, myRole: 'member', memberCount: 2 })
  const joined = { type: 'chat:member_joined', payload: { groupId, userId: bob.user.id, role: 'member', addedBy: null } }
  t.same(groupEvents, [joined])
  t.same(bobsEvents, [joined])
})

t.test('joining a group you are already in answers 200 with the group and announces nothing', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Private', memberIds: [bob.user.id] })
  const events: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ groupId }, (event) => { events.push(event) }))
  const res = await call(app, bob, 'POST', `/groups/${groupId}/join`)
  t.equal(res.statusCode, 200)
  t.match(res.json().data.group, { myRole: 'member', memberCount: 2 })
  t.same(events, [])
})

t.test('private and broadcast groups cannot be joined (403); an unknown group answers 404', async (t) => {
  const alice = await registerUser(app)
  const mallory = await registerUser(app)
  for (const type of ['group', 'broadcast']) {
    const groupId = await createGroup(app, alice, [], { name: type, type })
    const res = await call(app, mallory, 'POST', `/groups/${groupId}/join`)
    t.equal(res.statusCode, 403, type)
    t.match(res.json(), { code: 'FORBIDDEN' })
  }
  const unknown = await call(app, mallory, 'POST', '/groups/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/join')
  t.equal(unknown.statusCode, 404)
})

t.test('groupService answers other areas: membership, member ids, a user\'s groups', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  const groupId = await createGroup(app, alice, [], { name: 'Team', type: 'broadcast', memberIds: [bob.user.id] })
  const other = await createGroup(app, bob, [], { name: 'Other' })
  const membership = await app.groupService.getMembership(groupId, alice.user.id)
  t.match(membership, { groupId, role: 'owner', groupType: 'broadcast' })
  t.ok(membership?.groupIdBin instanceof Buffer)
  t.equal(await app.groupService.getMembership(groupId, carol.user.id), null)
  t.equal(await app.groupService.getMembership('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', alice.user.id), null)
  t.equal(await app.groupService.getMembership('junk', alice.user.id), null)
  t.same([...await app.groupService.memberUserIds(groupId)].sort((a, b) => a - b), [alice.user.id, bob.user.id].sort((a, b) => a - b))
  t.same((await app.groupService.groupIdsOf(bob.user.id)).sort(), [groupId, other].sort())
  t.same(await app.groupService.groupIdsOf(carol.user.id), [])
})

t.test('member ids are read once per window, and a change on this instance shows at once', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [], { name: 'Counted', type: 'group', memberIds: [bob.user.id] })
  const sorted = async (): Promise<number[]> => [...await app.groupService.memberUserIds(groupId)].sort((a, b) => a - b)
  t.same(await sorted(), [alice.user.id, bob.user.id].sort((a, b) => a - b))
  // A row written behind the service's back is not seen within the window: the list was cached.
  await app.db.insertInto('mirror_group_members')
    .values({ group_id: toBin(groupId), user_id: carol.user.id, role: 'member', joined_at: new Date() }).execute()
  t.notOk((await sorted()).includes(carol.user.id), 'served from the cache')
  await app.db.deleteFrom('mirror_group_members').where('group_id', '=', toBin(groupId)).where('user_id', '=', carol.user.id).execute()
  // Through the service, the change drops the cached list.
  const added = await call(app, alice, 'POST', `/groups/${groupId}/members`, { userId: carol.user.id })
  t.equal(added.statusCode, 201)
  t.same(await sorted(), [alice.user.id, bob.user.id, carol.user.id].sort((a, b) => a - b))
  const removed = await call(app, alice, 'DELETE', `/groups/${groupId}/members/${bob.user.id}`)
  t.equal(removed.statusCode, 200)
  t.same(await sorted(), [alice.user.id, carol.user.id].sort((a, b) => a - b))
})

t.test('a group at MAX_GROUP_MEMBERS refuses one more member with 409, by join or by add', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [], { name: 'Stadium', type: 'public' })
  // Fill the group straight in the database: registering a thousand users through the API is slow.
  const now = new Date()
  const filler = Array.from({ length: MAX_GROUP_MEMBERS - 1 }, (_, i) => ({ email: `fill${i}@example.test`, username: `fill${i}`, created_at: now, updated_at: now }))
  await app.db.insertInto('users').values(filler).execute()
  const fillerIds = await app.db.selectFrom('users').select('id').where('username', 'like', 'fill%').execute()
  await app.db.insertInto('mirror_group_members')
    .values(fillerIds.map((u) => ({ group_id: toBin(groupId), user_id: u.id, role: 'member' as const, joined_at: now })))
    .execute()
  const join = await call(app, bob, 'POST', `/groups/${groupId}/join`)
  t.equal(join.statusCode, 409)
  t.match(join.json(), { code: 'CONFLICT' })
  const add = await call(app, alice, 'POST', `/groups/${groupId}/members`, { userId: carol.user.id })
  t.equal(add.statusCode, 409)
  t.equal((await call(app, alice, 'GET', `/groups/${groupId}`)).json().data.group.memberCount, MAX_GROUP_MEMBERS)
})
