import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../../helpers/users.ts'
import { toBin } from '../../../src/lib/ids.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)

const api = '/mirror/api/auth'

t.test('logging out answers loggedOut and the same access token then gets 401', async (t) => {
  const { auth } = await registerUser(app)
  // Used once just before, so this instance has the session cached as active.
  t.equal((await app.inject({ method: 'GET', url: `${api}/me`, headers: auth })).statusCode, 200)
  const res = await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { loggedOut: true } })
  const after = await app.inject({ method: 'GET', url: `${api}/me`, headers: auth })
  t.equal(after.statusCode, 401)
  t.match(after.json(), { success: false, code: 'UNAUTHORIZED' })
})

t.test('logging out marks the session revoked in the database', async (t) => {
  const { token, auth } = await registerUser(app)
  await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })
  const sessionId = app.jwt.decode<{ sessionId: string }>(token)?.sessionId ?? ''
  const row = await app.db.selectFrom('auth_sessions').select(['revoked_at', 'revoked_reason'])
    .where('id', '=', toBin(sessionId)).executeTakeFirstOrThrow()
  t.ok(row.revoked_at instanceof Date)
  t.equal(row.revoked_reason, 'logout')
})

t.test('logging out ends only the current session', async (t) => {
  const { user, password, auth } = await registerUser(app)
  const other = (await app.inject({ method: 'POST', url: `${api}/login`, remoteAddress: uniqueClientIp(), payload: { username: user.username, password } })).json().data
  await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })
  const res = await app.inject({ method: 'GET', url: `${api}/me`, headers: { authorization: `Bearer ${other.token}` } })
  t.equal(res.statusCode, 200)
})

t.test('logging out twice with the same token answers 401 the second time', async (t) => {
  const { auth } = await registerUser(app)
  t.equal((await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })).statusCode, 401)
})

t.test('logging out without a token answers 401 in the envelope', async (t) => {
  const res = await app.inject({ method: 'POST', url: `${api}/logout` })
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED', error: String, timestamp: String })
})
