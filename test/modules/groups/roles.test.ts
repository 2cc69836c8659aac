import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ServerEvent } from '../../../schemas/events.ts'
import { call } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test casts its own users and group.
const app = await buildTestApp(t, import.meta.url)

/*
 * One test per row of the rule table in src/modules/groups/service.ts: owner > admin > member;
 * nobody acts on someone at or above their own rank except themselves, nobody grants a role at
 * or above their own rank except the owner transferring ownership.
 */

interface Cast {
  app: FastifyInstance
  groupId: string
  owner: TestUser
  admin: TestUser
  admin2: TestUser
  member: TestUser
  member2: TestUser
  outsider: TestUser
}

/** A group with an owner, two admins, two members, and a user outside it. */
async function cast (): Promise<Cast> {
  const [owner, admin, admin2, member, member2, outsider] = [
    await registerUser(app), await registerUser(app), await registerUser(app),
    await registerUser(app), await registerUser(app), await registerUser(app)
  ]
  const created = await call(app, owner, 'POST', '/groups', { name: 'Team', memberIds: [member.user.id, member2.user.id] })
  const groupId = created.json().data.group.id as string
  for (const a of [admin, admin2]) {
    const res = await call(app, owner, 'POST', `/groups/${groupId}/members`, { userId: a.user.id, role: 'admin' })
    if (res.statusCode !== 201) throw new Error(`setup failed: ${res.body}`)
  }
  return { app, groupId, owner, admin, admin2, member, member2, outsider }
}

async function roleOf (c: Cast, user: TestUser): Promise<string | undefined> {
  const res = await call(c.app, c.owner, 'GET', `/groups/${c.groupId}/members`)
  return (res.json().data.members as Array<{ userId: number, role: string }>).find((m) => m.userId === user.user.id)?.role
}

const addAs = async (c: Cast, actor: TestUser, user: TestUser, role?: string) =>
  await call(c.app, actor, 'POST', `/groups/${c.groupId}/members`, { userId: user.user.id, ...(role !== undefined ? { role } : {}) })
const setRole = async (c: Cast, actor: TestUser, user: TestUser, role: string) =>
  await call(c.app, actor, 'PATCH', `/groups/${c.groupId}/members/${user.user.id}`, { role })
const remove = async (c: Cast, actor: TestUser, user: TestUser) =>
  await call(c.app, actor, 'DELETE', `/groups/${c.groupId}/members/${user.user.id}`)

t.test('a member cannot add, remove or promote anyone', async (t) => {
  const c = await cast()
  const attempts = [
    await addAs(c, c.member, c.outsider),
    await remove(c, c.member, c.member2),
    await setRole(c, c.member, c.member2, 'admin'),
    await setRole(c, c.member, c.member, 'admin')
  ]
  t.same(attempts.map((r) => r.statusCode), [403, 403, 403, 403])
  t.match(attempts[0]!.json(), { success: false, code: 'FORBIDDEN' })
  t.equal(await roleOf(c, c.outsider), undefined)
  t.equal(await roleOf(c, c.member2), 'member')
  t.equal(await roleOf(c, c.member), 'member')
})

t.test('an admin adds a member (201 {member}) and the group and the new member hear it', async (t) => {
  const c = await cast()
  const groupEvents: ServerEvent[] = []
  const userEvents: ServerEvent[] = []
  t.teardown(c.app.bus.subscribe({ groupId: c.groupId }, (event) => { groupEvents.push(event) }))
  t.teardown(c.app.bus.subscribe({ userId: c.outsider.user.id }, (event) => { userEvents.push(event) }))
  const res = await addAs(c, c.admin, c.outsider)
  t.equal(res.statusCode, 201)
  t.match(res.json().data.member, { userId: c.outsider.user.id, role: 'member', joinedAt: String, user: { id: c.outsider.user.id, username: c.outsider.user.username } })
  const joined = { type: 'chat:member_joined', payload: { groupId: c.groupId, userId: c.outsider.user.id, role: 'member', addedBy: c.admin.user.id } }
  t.same(groupEvents, [joined])
  t.same(userEvents, [joined])
  t.equal((await call(c.app, c.outsider, 'GET', `/groups/${c.groupId}`)).statusCode, 200)
})

t.test('an admin cannot add someone as admin', async (t) => {
  const c = await cast()
  const res = await addAs(c, c.admin, c.outsider, 'admin')
  t.equal(res.statusCode, 403)
  t.equal(await roleOf(c, c.outsider), undefined)
})

t.test('the owner adds someone as admin', async (t) => {
  const c = await cast()
  const res = await addAs(c, c.owner, c.outsider, 'admin')
  t.equal(res.statusCode, 201)
  t.equal(res.json().data.member.role, 'admin')
})

t.test('an admin removes a member, who loses access; the group and the member hear reason "removed"', async (t) => {
  const c = await cast()
  const groupEvents: ServerEvent[] = []
  const userEvents: ServerEvent[] = []
  t.teardown(c.app.bus.subscribe({ groupId: c.groupId }, (event) => { groupEvents.push(event) }))
  t.teardown(c.app.bus.subscribe({ userId: c.member.user.id }, (event) => { userEvents.push(event) }))
  const res = await remove(c, c.admin, c.member)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { removed: true, userId: c.member.user.id })
  const left = { type: 'chat:member_left', payload: { groupId: c.groupId, userId: c.member.user.id, reason: 'removed', removedBy: c.admin.user.id } }
  t.same(groupEvents, [left])
  t.same(userEvents, [left])
  t.equal((await call(c.app, c.member, 'GET', `/groups/${c.groupId}`)).statusCode, 403)
})

t.test('an admin cannot remove another admin or the owner', async (t) => {
  const c = await cast()
  t.equal((await remove(c, c.admin, c.admin2)).statusCode, 403)
  t.equal((await remove(c, c.admin, c.owner)).statusCode, 403)
  t.equal(await roleOf(c, c.admin2), 'admin')
  t.equal(await roleOf(c, c.owner), 'owner')
})

t.test('the owner removes an admin and a member', async (t) => {
  const c = await cast()
  t.equal((await remove(c, c.owner, c.admin)).statusCode, 200)
  t.equal((await remove(c, c.owner, c.member)).statusCode, 200)
  t.equal(await roleOf(c, c.admin), undefined)
  t.equal(await roleOf(c, c.member), undefined)
})

t.test('an admin cannot promote a member to admin or demote another admin', async (t) => {
  const c = await cast()
  t.equal((await setRole(c, c.admin, c.member, 'admin')).statusCode, 403)
  t.equal((await setRole(c, c.admin, c.admin2, 'member')).statusCode, 403)
  t.equal(await roleOf(c, c.member), 'member')
  t.equal(await roleOf(c, c.admin2), 'admin')
})

t.test('the owner promotes a member to admin and the group hears chat:member_role_changed', async (t) => {
  const c = await cast()
  const events: ServerEvent[] = []
  t.teardown(c.app.bus.subscribe({ groupId: c.groupId }, (event) => { events.push(event) }))
  const res = await setRole(c, c.owner, c.member, 'admin')
  t.equal(res.statusCode, 200)
  t.match(res.json().data.member, { userId: c.member.user.id, role: 'admin' })
  t.same(events, [{ type: 'chat:member_role_changed', payload: { groupId: c.groupId, userId: c.member.user.id, role: 'admin', changedBy: c.owner.user.id } }])
})

t.test('the owner demotes an admin to member', async (t) => {
  const c = await cast()
  const res = await setRole(c, c.owner, c.admin, 'member')
  t.equal(res.statusCode, 200)
  t.equal(await roleOf(c, c.admin), 'member')
})

t.test('an admin steps down to member', async (t) => {
  const c = await cast()
  const res = await setRole(c, c.admin, c.admin, 'member')
  t.equal(res.statusCode, 200)
  t.equal(res.json().data.member.role, 'member')
})

t.test('the owner cannot step down without transferring ownership', async (t) => {
  const c = await cast()
  t.equal((await setRole(c, c.owner, c.owner, 'admin')).statusCode, 403)
  t.equal((await setRole(c, c.owner, c.owner, 'member')).statusCode, 403)
  t.equal(await roleOf(c, c.owner), 'owner')
})

t.test('the owner transfers ownership: the new owner is owner, the old one admin, the group hears both', async (t) => {
  const c = await cast()
  const events: ServerEvent[] = []
  t.teardown(c.app.bus.subscribe({ groupId: c.groupId }, (event) => { events.push(event) }))
  const res = await setRole(c, c.owner, c.member, 'owner')
  t.equal(res.statusCode, 200)
  t.match(res.json().data.member, { userId: c.member.user.id, role: 'owner' })
  t.equal(await roleOf(c, c.owner), 'admin')
  t.same(events, [
    { type: 'chat:member_role_changed', payload: { groupId: c.groupId, userId: c.member.user.id, role: 'owner', changedBy: c.owner.user.id } },
    { type: 'chat:member_role_changed', payload: { groupId: c.groupId, userId: c.owner.user.id, role: 'admin', changedBy: c.owner.user.id } }
  ])
  t.equal((await remove(c, c.owner, c.member)).statusCode, 403, 'the old owner, now admin, cannot remove the new owner')
})

t.test('only the owner transfers ownership', async (t) => {
  const c = await cast()
  t.equal((await setRole(c, c.admin, c.member, 'owner')).statusCode, 403)
  t.equal((await setRole(c, c.admin, c.admin, 'owner')).statusCode, 403)
  t.equal(await roleOf(c, c.owner), 'owner')
})

t.test('setting the role a member already has changes nothing and announces nothing', async (t) => {
  const c = await cast()
  const events: ServerEvent[] = []
  t.teardown(c.app.bus.subscribe({ groupId: c.groupId }, (event) => { events.push(event) }))
  const res = await setRole(c, c.owner, c.admin, 'admin')
  t.equal(res.statusCode, 200)
  t.same(events, [])
})

t.test('adding a member who is already in the group answers 409', async (t) => {
  const c = await cast()
  const res = await addAs(c, c.owner, c.member)
  t.equal(res.statusCode, 409)
  t.match(res.json(), { success: false, code: 'CONFLICT' })
})

t.test('adding an unknown user answers 404, and someone who blocked you 403', async (t) => {
  const c = await cast()
  const unknown = await call(c.app, c.owner, 'POST', `/groups/${c.groupId}/members`, { userId: 999999 })
  t.equal(unknown.statusCode, 404)
  await call(c.app, c.outsider, 'POST', `/users/${c.admin.user.id}/block`)
  t.equal((await addAs(c, c.admin, c.outsider)).statusCode, 403)
  t.equal((await addAs(c, c.owner, c.outsider)).statusCode, 201, 'someone they did not block can add them')
})

t.test('changing the role of or removing a non-member answers 404', async (t) => {
  const c = await cast()
  t.equal((await setRole(c, c.owner, c.outsider, 'admin')).statusCode, 404)
  t.equal((await remove(c, c.owner, c.outsider)).statusCode, 404)
})

t.test('member administration refuses bad input with 400', async (t) => {
  const c = await cast()
  const base = `/groups/${c.groupId}/members`
  const attempts = [
    await call(c.app, c.owner, 'POST', base, { userId: c.outsider.user.id, role: 'owner' }),
    await call(c.app, c.owner, 'POST', base, { userId: 'x' }),
    await call(c.app, c.owner, 'POST', base, {}),
    await call(c.app, c.owner, 'PATCH', `${base}/${c.member.user.id}`, { role: 'king' }),
    await call(c.app, c.owner, 'PATCH', `${base}/abc`, { role: 'admin' }),
    await call(c.app, c.owner, 'DELETE', `${base}/0`)
  ]
  t.same(attempts.map((r) => r.statusCode), [400, 400, 400, 400, 400, 400])
  for (const r of attempts) t.match(r.json(), { success: false, code: 'VALIDATION_ERROR' })
})

t.test('a non-member cannot administer the group (403)', async (t) => {
  const c = await cast()
  t.equal((await addAs(c, c.outsider, c.outsider)).statusCode, 403)
  t.equal((await remove(c, c.outsider, c.member)).statusCode, 403)
})
