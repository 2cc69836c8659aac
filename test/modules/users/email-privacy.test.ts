import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { call, createGroup } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp, type TestUser } from '../../helpers/users.ts'

// DESIGN §4: another user's profile never shows their email; only the caller's own user does
// (register, login, refresh, /auth/me, /users/me).

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })
const api = app.config.apiPrefix

/** The answer's data; any other status than the expected one fails the test. */
function dataOf (res: Awaited<ReturnType<FastifyInstance['inject']>>, status = 200): Record<string, unknown> {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 300)}`)
  return res.json().data as Record<string, unknown>
}

/** The public profile of a registered user, exactly: no email. */
const profileOf = (who: TestUser) => ({ id: who.user.id, username: who.user.username, displayName: who.user.displayName, avatarUrl: who.user.avatarUrl })

async function groupOf (owner: TestUser, members: TestUser[]): Promise<string> {
  return await createGroup(app, owner, members, { name: 'Privacy' })
}

t.test('GET /users/:id shows another user without their email', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const data = dataOf(await call(app, bob, 'GET', `/users/${alice.user.id}`))
  t.same(data, { user: profileOf(alice) })
})

t.test('GET /users/:id of the caller is the public profile too', async (t) => {
  const alice = await registerUser(app)
  t.same(dataOf(await call(app, alice, 'GET', `/users/${alice.user.id}`)), { user: profileOf(alice) })
})

t.test('user search shows no email', async (t) => {
  const alice = await registerUser(app, { username: `privsearch${process.pid}` })
  const bob = await registerUser(app)
  const data = dataOf(await call(app, bob, 'GET', `/users?q=privsearch${process.pid}`))
  t.same(data, { users: [profileOf(alice)] })
})

t.test('the blocked list shows no email', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  dataOf(await call(app, bob, 'POST', `/users/${alice.user.id}/block`))
  const { users } = dataOf(await call(app, bob, 'GET', '/users/blocked')) as { users: Array<Record<string, unknown>> }
  // A blocked entry is the public profile plus the block's own reason and time.
  t.same(users.map(({ reason: _reason, blockedAt: _blockedAt, ...profile }) => profile), [profileOf(alice)])
})

t.test('a group\'s member list shows no member\'s email', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await groupOf(alice, [bob])
  const { members } = dataOf(await call(app, bob, 'GET', `/groups/${groupId}/members`)) as { members: Array<{ user: unknown }> }
  t.same(members.map((m) => m.user), [profileOf(alice), profileOf(bob)])
  t.notMatch(JSON.stringify(members), /@example\.test/)
})

t.test('adding a member and changing a member\'s role answer the member without email', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await groupOf(alice, [])
  const added = dataOf(await call(app, alice, 'POST', `/groups/${groupId}/members`, { userId: bob.user.id }), 201) as { member: { user: unknown } }
  t.same(added.member.user, profileOf(bob))
  const changed = dataOf(await call(app, alice, 'PATCH', `/groups/${groupId}/members/${bob.user.id}`, { role: 'admin' })) as { member: { user: unknown } }
  t.same(changed.member.user, profileOf(bob))
})

t.test('the caller\'s own user carries their email: /auth/me, /users/me and PATCH /users/me', async (t) => {
  const alice = await registerUser(app)
  t.same(dataOf(await call(app, alice, 'GET', '/auth/me')), { user: alice.user })
  t.same(dataOf(await call(app, alice, 'GET', '/users/me')), { user: alice.user })
  const patched = dataOf(await call(app, alice, 'PATCH', '/users/me', { displayName: 'Alice Again' })) as { user: { email: string } }
  t.equal(patched.user.email, alice.user.email)
})

t.test('register, login and refresh answer the caller\'s own email', async (t) => {
  const alice = await registerUser(app)
  t.match(alice.user, { email: String }, 'register')
  const login = await app.inject({ method: 'POST', url: `${api}/auth/login`, remoteAddress: uniqueClientIp(), payload: { username: alice.user.username, password: alice.password } })
  t.equal((dataOf(login).user as { email: string }).email, alice.user.email)
  const refresh = await app.inject({ method: 'POST', url: `${api}/auth/refresh`, remoteAddress: uniqueClientIp(), payload: { refreshToken: alice.refreshToken } })
  t.equal((dataOf(refresh).user as { email: string }).email, alice.user.email)
})

t.test('the OpenAPI document shows email only in the caller\'s own user', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  const schemas = (res.json() as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } }).components.schemas
  t.notOk('email' in (schemas.UserProfile?.properties ?? {}), 'UserProfile has no email')
  t.ok('email' in (schemas.PublicUser?.properties ?? {}), 'PublicUser (the caller) has one')
})
