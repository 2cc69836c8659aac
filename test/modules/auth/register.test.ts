import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../../helpers/users.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)

const url = '/mirror/api/auth/register'

t.test('registering answers 201 with tokens and the public user', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url,
    remoteAddress: uniqueClientIp(),
    payload: { email: 'Ada@Example.TEST', username: 'ada.lovelace', password: 'analytical engine', displayName: 'Ada' }
  })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.match(body, { success: true, data: { token: String, refreshToken: String }, timestamp: String })
  t.same(Object.keys(body.data.user).sort(), ['avatarUrl', 'displayName', 'email', 'id', 'username'])
  t.match(body.data.user, { id: Number, username: 'ada.lovelace', email: 'ada@example.test', displayName: 'Ada', avatarUrl: null })
  t.notMatch(res.body, /password|argon2/i)
})

t.test('the password is stored only as an argon2id hash with the OWASP parameters', async (t) => {
  const { user, password } = await registerUser(app)
  const row = await app.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow()
  t.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.notMatch(row.password_hash, password)
})

t.test('the access token carries exactly the seed 01 payload', async (t) => {
  const { user, token } = await registerUser(app)
  const payload = app.jwt.decode<Record<string, unknown>>(token)
  t.ok(payload)
  t.same(Object.keys(payload ?? {}).sort(), ['email', 'exp', 'iat', 'id', 'sessionId', 'username'])
  t.match(payload, { id: user.id, username: user.username, email: user.email, sessionId: /^[0-9a-f-]{36}$/ })
  t.equal(Number(payload?.exp) - Number(payload?.iat), app.config.jwt.accessTtlSeconds)
})

t.test('the refresh token is stored only as its SHA-256 hash, with a session expiring after the refresh TTL', async (t) => {
  const { user, refreshToken } = await registerUser(app)
  const { createHash } = await import('node:crypto')
  const rows = await app.db.selectFrom('auth_sessions').selectAll().where('user_id', '=', user.id).execute()
  t.equal(rows.length, 1)
  t.same(rows[0]?.refresh_hash, createHash('sha256').update(refreshToken).digest())
  const ttlMs = (rows[0]?.expires_at.getTime() ?? 0) - Date.now()
  t.ok(ttlMs > (app.config.jwt.refreshTtlSeconds - 60) * 1000 && ttlMs <= app.config.jwt.refreshTtlSeconds * 1000)
})

t.test('a registered email cannot register again, in any letter case', async (t) => {
  await registerUser(app, { username: 'first_owner', email: 'taken@example.test' })
  const res = await app.inject({
    method: 'POST',
    url,
    remoteAddress: uniqueClientIp(),
    payload: { email: 'TAKEN@example.test', username: 'second_owner', password: 'long enough password' }
  })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { success: false, code: 'CONFLICT', details: { field: 'email' } })
})

t.test('a taken username cannot register again, in any letter case', async (t) => {
  await registerUser(app, { username: 'grace_h' })
  const res = await app.inject({
    method: 'POST',
    url,
    remoteAddress: uniqueClientIp(),
    payload: { email: 'other-grace@example.test', username: 'GRACE_H', password: 'long enough password' }
  })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { success: false, code: 'CONFLICT', details: { field: 'username' } })
})

t.test('two simultaneous registrations of one username give one 201 and one 409', async (t) => {
  const attempt = async (n: number) => await app.inject({
    method: 'POST',
    url,
    remoteAddress: uniqueClientIp(),
    payload: { email: `racer${n}@example.test`, username: 'the_racer', password: 'long enough password' }
  })
  const results = await Promise.all([attempt(1), attempt(2), attempt(3)])
  t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409])
})

const invalidBodies: Array<[string, Record<string, unknown>, string]> = [
  ['a malformed email', { email: 'not-an-email', username: 'valid_name', password: 'long enough password' }, 'email'],
  ['an email over 254 characters', { email: `${'a'.repeat(250)}@x.io`, username: 'valid_name', password: 'long enough password' }, 'email'],
  ['a username with a space', { email: 'a@example.test', username: 'bad name', password: 'long enough password' }, 'username'],
  ['a username under 3 characters', { email: 'a@example.test', username: 'ab', password: 'long enough password' }, 'username'],
  ['a username over 32 characters', { email: 'a@example.test', username: 'a'.repeat(33), password: 'long enough password' }, 'username'],
  ['a password under 8 characters', { email: 'a@example.test', username: 'valid_name', password: 'short' }, 'password'],
  ['a password over 128 characters', { email: 'a@example.test', username: 'valid_name', password: 'p'.repeat(129) }, 'password'],
  ['an empty display name', { email: 'a@example.test', username: 'valid_name', password: 'long enough password', displayName: '' }, 'displayName'],
  ['a display name over 64 characters', { email: 'a@example.test', username: 'valid_name', password: 'long enough password', displayName: 'd'.repeat(65) }, 'displayName'],
  ['a missing password', { email: 'a@example.test', username: 'valid_name' }, 'password'],
  ['an unknown field', { email: 'a@example.test', username: 'valid_name', password: 'long enough password', isAdmin: true }, 'isAdmin']
]

for (const [what, payload, field] of invalidBodies) {
  t.test(`registering with ${what} answers 400 naming the field`, async (t) => {
    const res = await app.inject({ method: 'POST', url, remoteAddress: uniqueClientIp(), payload })
    t.equal(res.statusCode, 400)
    const body = res.json()
    t.match(body, { success: false, code: 'VALIDATION_ERROR', validationErrors: Array, timestamp: String })
    t.ok(body.validationErrors.some((e: { field: string }) => e.field === field), `validationErrors name ${field}: ${res.body}`)
  })
}

t.test('registering with a body that is not JSON answers 400 in the envelope', async (t) => {
  const res = await app.inject({ method: 'POST', url, remoteAddress: uniqueClientIp(), headers: { 'content-type': 'application/json' }, payload: '{"email":' })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { success: false, code: 'VALIDATION_ERROR' })
})

t.test('registration is limited per client IP with 429 and rate limit details', async (t) => {
  const ip = uniqueClientIp()
  let last = null
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) {
    last = await app.inject({ method: 'POST', url, remoteAddress: ip, payload: { email: `flood${i}@example.test`, username: `flood${i}`, password: 'long enough password' } })
    statuses.push(last.statusCode)
  }
  t.same(statuses, [...Array<number>(20).fill(201), 429])
  t.match(last?.json(), { success: false, code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: Number, limit: 20, remaining: 0, resetAt: String } })
})
