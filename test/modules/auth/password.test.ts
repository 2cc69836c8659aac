import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../../helpers/users.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { LOGIN_FAILURE_LIMITS } from '../../../src/modules/auth/login-throttle.ts'

// POST /auth/password: the account change that ends the user's other sessions.
const app = await buildTestApp(t, import.meta.url)
const url = `${app.config.apiPrefix}/auth/password`

const sessionOf = (token: string): Buffer => toBin(app.jwt.decode<{ sessionId: string }>(token)?.sessionId ?? '')

t.test('the other sessions are revoked in the database as password_change; the current one stays', async (t) => {
  const alice = await registerUser(app)
  const login = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/login`, remoteAddress: uniqueClientIp(), payload: { email: alice.user.email, password: alice.password } })
  const other = login.json().data.token as string
  const res = await app.inject({ method: 'POST', url, headers: alice.auth, payload: { currentPassword: alice.password, newPassword: 'another long passphrase' } })
  t.equal(res.statusCode, 200)
  const rows = await app.db.selectFrom('auth_sessions').select(['id', 'revoked_reason']).where('user_id', '=', alice.user.id).execute()
  const reasonOf = (id: Buffer) => rows.find((r) => r.id.equals(id))?.revoked_reason
  t.equal(reasonOf(sessionOf(other)), 'password_change')
  t.equal(reasonOf(sessionOf(alice.token)), null)
})

t.test('wrong current passwords are throttled like failed sign-ins from that address', async (t) => {
  const alice = await registerUser(app)
  const remoteAddress = uniqueClientIp()
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair; i++) {
    const res = await app.inject({ method: 'POST', url, remoteAddress, headers: alice.auth, payload: { currentPassword: `guess ${i}`, newPassword: 'another long passphrase' } })
    t.equal(res.statusCode, 403, `guess ${i + 1}`)
  }
  const res = await app.inject({ method: 'POST', url, remoteAddress, headers: alice.auth, payload: { currentPassword: alice.password, newPassword: 'another long passphrase' } })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: LOGIN_FAILURE_LIMITS.pair } })
})

t.test('an account without a password cannot change it here', async (t) => {
  const alice = await registerUser(app)
  await app.db.updateTable('users').set({ password_hash: null }).where('id', '=', alice.user.id).execute()
  const res = await app.inject({ method: 'POST', url, headers: alice.auth, payload: { currentPassword: alice.password, newPassword: 'another long passphrase' } })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { success: false, code: 'FORBIDDEN' })
})

t.test('changing the password needs a token', async (t) => {
  const res = await app.inject({ method: 'POST', url, payload: { currentPassword: 'x', newPassword: 'another long passphrase' } })
  t.equal(res.statusCode, 401)
})
