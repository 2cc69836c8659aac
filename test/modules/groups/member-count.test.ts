import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { toBin } from '../../../src/lib/ids.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// Issue 16.4: a group's member count is a counter kept with its member rows (what a send's ack
// reads instead of the member list), and the member limits come from configuration.
const app = await buildTestApp(t, import.meta.url, { env: { MAX_GROUP_MEMBERS: '3', MAX_BROADCAST_MEMBERS: '5' } })
const api = app.config.apiPrefix

async function call (as: TestUser, method: 'POST' | 'DELETE', path: string, payload?: Record<string, unknown>): Promise<number> {
  return (await app.inject({ method, url: `${api}${path}`, headers: as.auth, ...(payload !== undefined ? { payload } : {}) })).statusCode
}

async function counts (app: FastifyInstance, groupId: string): Promise<{ counter: number, rows: number }> {
  const group = await app.db.selectFrom('mirror_groups').select('member_count').where('id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  const rows = await app.db.selectFrom('mirror_group_members').select((eb) => eb.fn.countAll<number>().as('n')).where('group_id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  return { counter: Number(group.member_count), rows: Number(rows.n) }
}

t.test('the member counter follows creation, adds, joins, leaves and removals', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const res = await app.inject({ method: 'POST', url: `${api}/groups`, headers: alice.auth, payload: { name: 'Count', type: 'public', memberIds: [bob.user.id] } })
  const groupId = res.json().data.group.id as string
  t.same(await counts(app, groupId), { counter: 2, rows: 2 })
  t.equal(await call(carol, 'POST', `/groups/${groupId}/join`), 200)
  t.equal(await call(carol, 'POST', `/groups/${groupId}/join`), 200, 'joining twice adds nobody')
  t.same(await counts(app, groupId), { counter: 3, rows: 3 })
  t.equal(await app.groupService.memberCount(groupId), 3)
  t.equal(await call(bob, 'POST', `/groups/${groupId}/leave`), 200)
  t.equal(await call(alice, 'DELETE', `/groups/${groupId}/members/${carol.user.id}`), 200)
  t.same(await counts(app, groupId), { counter: 1, rows: 1 })
  t.equal(await call(alice, 'POST', `/groups/${groupId}/members`, { userId: bob.user.id }), 201)
  t.same(await counts(app, groupId), { counter: 2, rows: 2 })
})

t.test('MAX_GROUP_MEMBERS bounds a group and MAX_BROADCAST_MEMBERS a broadcast group', async (t) => {
  const users = await Promise.all(Array.from({ length: 6 }, async () => await registerUser(app)))
  const [owner, ...others] = users as [TestUser, ...TestUser[]]
  const tooMany = await app.inject({ method: 'POST', url: `${api}/groups`, headers: owner.auth, payload: { name: 'Big', memberIds: others.slice(0, 3).map((u) => u.user.id) } })
  t.equal(tooMany.statusCode, 409)
  const broadcast = await app.inject({ method: 'POST', url: `${api}/groups`, headers: owner.auth, payload: { name: 'News', type: 'broadcast', memberIds: others.slice(0, 4).map((u) => u.user.id) } })
  t.equal(broadcast.statusCode, 201, 'a broadcast group holds more')
  const groupId = broadcast.json().data.group.id as string
  t.equal(await call(owner, 'POST', `/groups/${groupId}/members`, { userId: others[4]!.user.id }), 409, 'up to its own limit')
})
