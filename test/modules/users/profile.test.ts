import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users.
const app = await buildTestApp(t, import.meta.url)

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

async function call (app: FastifyInstance, as: TestUser | null, method: Method, path: string, payload?: Record<string, unknown>) {
  return await app.inject({ method, url: `${app.config.apiPrefix}${path}`, headers: as?.auth ?? {}, ...(payload !== undefined ? { payload } : {}) })
}

t.test('GET /users/:id returns the public profile and never private fields', async (t) => {
  const alice = await registerUser(app, { displayName: 'Alice A' })
  const bob = await registerUser(app)
  const res = await call(app, bob, 'GET', `/users/${alice.user.id}`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { user: { id: alice.user.id, username: alice.user.username, displayName: 'Alice A', avatarUrl: null } })
  t.notMatch(res.body, /password/i)
})

t.test('GET /users/:id of an unknown user answers 404', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, alice, 'GET', '/users/999999')
  t.equal(res.statusCode, 404)
  t.match(res.json(), { success: false, code: 'NOT_FOUND' })
})

t.test('GET /users/:id with a non-numeric id answers 400, not a 5xx', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, alice, 'GET', '/users/abc')
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'id' }] })
})

t.test('the users routes need a token', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, null, 'GET', `/users/${alice.user.id}`)
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
})

t.test('GET /users/me is the caller, not a user with id "me"', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, alice, 'GET', '/users/me')
  t.equal(res.statusCode, 200)
  t.equal(res.json().data.user.id, alice.user.id)
})

t.test('PATCH /users/me changes the display name and avatar, and GET shows the change', async (t) => {
  const alice = await registerUser(app)
  const res = await call(app, alice, 'PATCH', '/users/me', { displayName: '  Alice Liddell ', avatarUrl: 'https://cdn.example.com/a.png' })
  t.equal(res.statusCode, 200)
  t.match(res.json().data.user, { id: alice.user.id, displayName: 'Alice Liddell', avatarUrl: 'https://cdn.example.com/a.png' })
  const read = await call(app, alice, 'GET', `/users/${alice.user.id}`)
  t.match(read.json().data.user, { displayName: 'Alice Liddell', avatarUrl: 'https://cdn.example.com/a.png' })
})

t.test('PATCH /users/me leaves out fields unchanged and null clears a field', async (t) => {
  const alice = await registerUser(app, { displayName: 'Alice' })
  await call(app, alice, 'PATCH', '/users/me', { avatarUrl: 'http://example.com/x.jpg' })
  const res = await call(app, alice, 'PATCH', '/users/me', { avatarUrl: null })
  t.equal(res.statusCode, 200)
  t.match(res.json().data.user, { displayName: 'Alice', avatarUrl: null })
  const cleared = await call(app, alice, 'PATCH', '/users/me', { displayName: null })
  t.equal(cleared.statusCode, 200)
  t.equal(cleared.json().data.user.displayName, null)
})

t.test('PATCH /users/me refuses an avatar that is not an http(s) URL', async (t) => {
  const alice = await registerUser(app)
  for (const avatarUrl of ['javascript:alert(1)', 'ftp://example.com/a.png', 'not a url', `https://example.com/${'a'.repeat(2040)}`]) {
    const res = await call(app, alice, 'PATCH', '/users/me', { avatarUrl })
    t.equal(res.statusCode, 400, avatarUrl.slice(0, 30))
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'avatarUrl' }] })
  }
})

t.test('PATCH /users/me refuses a blank or too long display name and unknown fields', async (t) => {
  const alice = await registerUser(app)
  for (const payload of [{ displayName: '' }, { displayName: '   ' }, { displayName: 'x'.repeat(65) }, { username: 'renamed' }]) {
    const res = await call(app, alice, 'PATCH', '/users/me', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 30))
    t.match(res.json(), { code: 'VALIDATION_ERROR' })
  }
  const read = await call(app, alice, 'GET', '/users/me')
  t.equal(read.json().data.user.username, alice.user.username)
})
