import t from 'tap'
import { call } from '../../helpers/api.ts'
import { recordEvents } from '../../helpers/events.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users and groups.
const app = await buildTestApp(t, import.meta.url)

t.test('POST /groups creates a group whose creator is the owner', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, alice, 'POST', '/groups', { name: '  Book club ', description: 'Monthly reads', avatarUrl: 'https://example.com/g.png' })
  t.equal(res.statusCode, 201)
  const group = res.json().data.group
  t.match(group, {
    id: /^[0-9a-f-]{36}$/,
    name: 'Book club',
    description: 'Monthly reads',
    type: 'group',
    avatarUrl: 'https://example.com/g.png',
    createdBy: alice.user.id,
    memberCount: 1,
    myRole: 'owner',
    peerUserId: null,
    createdAt: String,
    updatedAt: String
  })
  const members = await call(app, alice, 'GET', `/groups/${group.id}/members`)
  t.match(members.json().data.members, [{ userId: alice.user.id, role: 'owner', user: { id: alice.user.id, username: alice.user.username } }])
})

t.test('POST /groups adds memberIds as members, ignoring duplicates and the creator', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  const res = await call(app, alice, 'POST', '/groups', { name: 'Team', type: 'public', memberIds: [bob.user.id, carol.user.id, bob.user.id, alice.user.id] })
  t.equal(res.statusCode, 201)
  t.match(res.json().data.group, { type: 'public', memberCount: 3, myRole: 'owner' })
  const members = await call(app, bob, 'GET', `/groups/${res.json().data.group.id}/members`)
  const roles = Object.fromEntries((members.json().data.members as Array<{ userId: number, role: string }>).map((m) => [m.userId, m.role]))
  t.same(roles, { [alice.user.id]: 'owner', [bob.user.id]: 'member', [carol.user.id]: 'member' })
  const bobsView = await call(app, bob, 'GET', `/groups/${res.json().data.group.id}`)
  t.match(bobsView.json().data.group, { myRole: 'member', memberCount: 3 })
})

t.test('POST /groups tells each added member and the group that they joined', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const bobsEvents = recordEvents(app, { userId: bob.user.id }, t)
  const res = await call(app, alice, 'POST', '/groups', { name: 'Team', memberIds: [bob.user.id] })
  const groupId = res.json().data.group.id
  t.same(bobsEvents, [{ type: 'chat:member_joined', payload: { groupId, userId: bob.user.id, role: 'member', addedBy: alice.user.id } }])
})

t.test('POST /groups with an unknown member answers 404 and creates nothing', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const res = await call(app, alice, 'POST', '/groups', { name: 'Team', memberIds: [bob.user.id, 999999] })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'NOT_FOUND', details: { userIds: [999999] } })
  const list = await call(app, alice, 'GET', '/groups')
  t.same(list.json().data.groups, [])
})

t.test('POST /groups cannot add a user who has blocked the creator', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  await call(app, bob, 'POST', `/users/${alice.user.id}/block`)
  const res = await call(app, alice, 'POST', '/groups', { name: 'Team', memberIds: [bob.user.id] })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { code: 'FORBIDDEN' })
})

t.test('POST /groups refuses bad input with 400 and field errors', async (t) => {
  const alice = await registerUser(app)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{}, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: 'DM', type: 'direct' }, 'type'],
    [{ name: 'G', description: 'd'.repeat(1001) }, 'description'],
    [{ name: 'G', avatarUrl: 'data:image/png;base64,AAAA' }, 'avatarUrl'],
    [{ name: 'G', memberIds: Array.from({ length: 101 }, (_, i) => i + 1) }, 'memberIds'],
    [{ name: 'G', memberIds: ['abc'] }, 'memberIds.0'],
    [{ name: 'G', isPublic: true }, 'isPublic']
  ]
  for (const [payload, field] of cases) {
    const res = await call(app, alice, 'POST', '/groups', payload)
    t.equal(res.statusCode, 400, field)
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR' })
    t.ok((res.json().validationErrors as Array<{ field: string }>).some((e) => e.field === field), `${field} named`)
  }
})
