import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ServerEvent } from '../../../schemas/events.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { directKeyOf } from '../../../src/modules/groups/service.ts'

// One app for the whole file: every test makes its own users and groups.
const app = await buildTestApp(t, import.meta.url)

async function openDirect (app: FastifyInstance, as: TestUser, otherUserId: number) {
  return await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/groups/direct/${otherUserId}`, headers: as.auth })
}

t.test('the first POST /groups/direct/:userId creates the chat (201), the next ones return it (200)', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const first = await openDirect(app, alice, bob.user.id)
  t.equal(first.statusCode, 201)
  const group = first.json().data.group
  t.match(group, { type: 'direct', name: '', memberCount: 2, myRole: 'member', peerUserId: bob.user.id, createdBy: alice.user.id })
  const again = await openDirect(app, alice, bob.user.id)
  t.equal(again.statusCode, 200)
  t.equal(again.json().data.group.id, group.id)
  const fromBob = await openDirect(app, bob, alice.user.id)
  t.equal(fromBob.statusCode, 200)
  t.match(fromBob.json().data.group, { id: group.id, peerUserId: alice.user.id })
})

t.test('simultaneous create-or-get calls from both users make exactly one direct chat', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const calls = Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? openDirect(app, alice, bob.user.id) : openDirect(app, bob, alice.user.id))
  const responses = await Promise.all(calls)
  t.same(responses.map((r) => r.statusCode).filter((s) => s !== 200 && s !== 201), [], 'every call succeeds')
  t.equal(responses.filter((r) => r.statusCode === 201).length, 1, 'exactly one call created it')
  const ids = new Set(responses.map((r) => r.json().data.group.id as string))
  t.equal(ids.size, 1, 'every call got the same group')
  const rows = await app.db.selectFrom('mirror_groups').select(['id']).where('direct_key', '=', directKeyOf(alice.user.id, bob.user.id)).execute()
  t.equal(rows.length, 1, 'one direct_key row')
  const members = await app.db.selectFrom('mirror_group_members').select('user_id').where('group_id', '=', rows[0]!.id).execute()
  t.same(members.map((m) => m.user_id).sort((a, b) => a - b), [alice.user.id, bob.user.id].sort((a, b) => a - b))
})

t.test('creating a direct chat tells both users', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const bobsEvents: ServerEvent[] = []
  t.teardown(app.bus.subscribe({ userId: bob.user.id }, (event) => { bobsEvents.push(event) }))
  const res = await openDirect(app, alice, bob.user.id)
  const groupId = res.json().data.group.id
  t.same(bobsEvents, [{ type: 'chat:member_joined', payload: { groupId, userId: bob.user.id, role: 'member', addedBy: alice.user.id } }])
  await openDirect(app, alice, bob.user.id)
  t.equal(bobsEvents.length, 1, 'getting the existing chat announces nothing')
})

t.test('a direct chat with yourself answers 400', async (t) => {
  const alice = await registerUser(app)
  const res = await openDirect(app, alice, alice.user.id)
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'userId' }] })
})

t.test('a direct chat with an unknown user answers 404', async (t) => {
  const alice = await registerUser(app)
  const res = await openDirect(app, alice, 999999)
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'NOT_FOUND' })
})

t.test('a user who has blocked you cannot be messaged directly (403), even in an existing chat', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  t.equal((await openDirect(app, alice, bob.user.id)).statusCode, 201)
  await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/users/${alice.user.id}/block`, headers: bob.auth })
  const res = await openDirect(app, alice, bob.user.id)
  t.equal(res.statusCode, 403)
  t.match(res.json(), { code: 'FORBIDDEN' })
  t.equal((await openDirect(app, bob, alice.user.id)).statusCode, 200, 'the blocker can still open it')
})

t.test('direct chats cannot be edited, left or administered', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  const groupId = (await openDirect(app, alice, bob.user.id)).json().data.group.id
  const base = `${app.config.apiPrefix}/groups/${groupId}`
  const attempts = [
    await app.inject({ method: 'PATCH', url: base, headers: alice.auth, payload: { name: 'Renamed' } }),
    await app.inject({ method: 'POST', url: `${base}/leave`, headers: alice.auth }),
    await app.inject({ method: 'POST', url: `${base}/members`, headers: alice.auth, payload: { userId: carol.user.id } }),
    await app.inject({ method: 'PATCH', url: `${base}/members/${bob.user.id}`, headers: alice.auth, payload: { role: 'admin' } }),
    await app.inject({ method: 'DELETE', url: `${base}/members/${bob.user.id}`, headers: alice.auth })
  ]
  t.same(attempts.map((r) => r.statusCode), [403, 403, 403, 403, 403])
  const group = await app.inject({ method: 'GET', url: base, headers: bob.auth })
  t.match(group.json().data.group, { memberCount: 2, name: '' })
})

t.test('a member missing from an existing direct chat is restored by create-or-get', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = (await openDirect(app, alice, bob.user.id)).json().data.group.id as string
  await app.db.deleteFrom('mirror_group_members').where('group_id', '=', Buffer.from(groupId.replace(/-/g, ''), 'hex')).where('user_id', '=', alice.user.id).execute()
  const res = await openDirect(app, alice, bob.user.id)
  t.equal(res.statusCode, 200)
  t.match(res.json().data.group, { id: groupId, memberCount: 2, myRole: 'member' })
})
