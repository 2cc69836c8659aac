import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../../helpers/users.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { REFRESH_LIMIT_PER_SESSION } from '../../../src/modules/auth/service.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)

const api = '/mirror/api/auth'

async function refresh (app: FastifyInstance, refreshToken: unknown) {
  return await app.inject({ method: 'POST', url: `${api}/refresh`, remoteAddress: uniqueClientIp(), payload: { refreshToken } })
}

async function me (app: FastifyInstance, token: string) {
  return await app.inject({ method: 'GET', url: `${api}/me`, headers: { authorization: `Bearer ${token}` } })
}

const sessionOf = (app: FastifyInstance, token: string): string => app.jwt.decode<{ sessionId: string }>(token)?.sessionId ?? ''

t.test('a refresh answers new tokens for the same session and user', async (t) => {
  const { user, token, refreshToken } = await registerUser(app)
  const res = await refresh(app, refreshToken)
  t.equal(res.statusCode, 200)
  const data = res.json().data
  t.match(data, { token: String, refreshToken: String, user })
  t.not(data.refreshToken, refreshToken)
  t.equal(sessionOf(app, data.token), sessionOf(app, token))
  t.equal((await me(app, data.token)).statusCode, 200)
})

t.test('a refresh rotates the stored hash and extends the session', async (t) => {
  const { token, refreshToken } = await registerUser(app)
  const id = toBin(sessionOf(app, token))
  const before = await app.db.selectFrom('auth_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const next = (await refresh(app, refreshToken)).json().data.refreshToken as string
  const after = await app.db.selectFrom('auth_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const { createHash } = await import('node:crypto')
  t.same(after.refresh_hash, createHash('sha256').update(next).digest())
  t.ok(after.refreshed_at instanceof Date)
  t.ok(after.expires_at.getTime() >= before.expires_at.getTime())
})

t.test('a refresh token works once: the rotated one is rejected', async (t) => {
  const { refreshToken } = await registerUser(app)
  t.equal((await refresh(app, refreshToken)).statusCode, 200)
  const again = await refresh(app, refreshToken)
  t.equal(again.statusCode, 401)
  t.match(again.json(), { success: false, code: 'UNAUTHORIZED' })
})

t.test('reusing a rotated refresh token revokes the whole session', async (t) => {
  const { token, refreshToken } = await registerUser(app)
  const first = (await refresh(app, refreshToken)).json().data
  const second = (await refresh(app, first.refreshToken)).json().data
  t.equal((await me(app, second.token)).statusCode, 200)

  // Someone replays the very first refresh token.
  t.equal((await refresh(app, refreshToken)).statusCode, 401)

  t.equal((await me(app, second.token)).statusCode, 401, 'the newest access token is dead')
  t.equal((await me(app, token)).statusCode, 401, 'the first access token is dead')
  t.equal((await refresh(app, second.refreshToken)).statusCode, 401, 'the newest refresh token fails too')
  const row = await app.db.selectFrom('auth_sessions').select(['revoked_at', 'revoked_reason'])
    .where('id', '=', toBin(sessionOf(app, token))).executeTakeFirstOrThrow()
  t.ok(row.revoked_at instanceof Date)
  t.equal(row.revoked_reason, 'refresh_reuse')
})

t.test('reuse in one session leaves the user\'s other sessions alone', async (t) => {
  const { user, password, refreshToken } = await registerUser(app)
  const other = (await app.inject({ method: 'POST', url: `${api}/login`, remoteAddress: uniqueClientIp(), payload: { email: user.email, password } })).json().data
  await refresh(app, refreshToken)
  await refresh(app, refreshToken)
  t.equal((await me(app, other.token)).statusCode, 200)
  t.equal((await refresh(app, other.refreshToken)).statusCode, 200)
})

t.test('two simultaneous refreshes with one token never both succeed', async (t) => {
  const { refreshToken } = await registerUser(app)
  const results = await Promise.all([refresh(app, refreshToken), refresh(app, refreshToken)])
  t.same(results.map((r) => r.statusCode).sort(), [200, 401])
})

t.test('a forged refresh token for a live session is refused without ending the session', async (t) => {
  const { token, refreshToken } = await registerUser(app)
  const [body] = refreshToken.split('.')
  const forged = `${body ?? ''}.${Buffer.alloc(32, 1).toString('base64url')}`
  t.equal((await refresh(app, forged)).statusCode, 401)
  t.equal((await me(app, token)).statusCode, 200)
  t.equal((await refresh(app, refreshToken)).statusCode, 200)
})

t.test('a refresh token of an expired session is refused', async (t) => {
  const { token, refreshToken } = await registerUser(app)
  await app.db.updateTable('auth_sessions').set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', toBin(sessionOf(app, token))).execute()
  const res = await refresh(app, refreshToken)
  t.equal(res.statusCode, 401)
  t.match(res.json(), { code: 'UNAUTHORIZED' })
})

t.test('a refresh token of a logged-out session is refused', async (t) => {
  const { auth, refreshToken } = await registerUser(app)
  t.equal((await app.inject({ method: 'POST', url: `${api}/logout`, headers: auth })).statusCode, 200)
  t.equal((await refresh(app, refreshToken)).statusCode, 401)
})

t.test('a garbage refresh token is refused with 401', async (t) => {
  for (const junk of ['x'.repeat(40), 'a.b.c.d.e.f.g.h.i.j.k.l', `${Buffer.alloc(48).toString('base64url')}.${'A'.repeat(43)}`]) {
    const res = await refresh(app, junk)
    t.equal(res.statusCode, 401, junk)
    t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
  }
})

t.test('a refresh body without a usable token answers 400 with validationErrors', async (t) => {
  for (const refreshToken of [undefined, 42, 'short', 'x'.repeat(257)]) {
    const res = await refresh(app, refreshToken)
    t.equal(res.statusCode, 400, String(refreshToken))
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR', validationErrors: [{ field: 'refreshToken' }] })
  }
})

t.test('refreshes are limited per session, not per address: sessions behind one shared address each have their own budget', async (t) => {
  const sharedAddress = uniqueClientIp()
  const users = await Promise.all(Array.from({ length: 25 }, async () => await registerUser(app)))
  const statuses = await Promise.all(users.map(async (u) => (await app.inject({
    method: 'POST', url: `${api}/refresh`, remoteAddress: sharedAddress, payload: { refreshToken: u.refreshToken }
  })).statusCode))
  t.same(statuses, Array<number>(25).fill(200), 'more than the per-address auth budget (20) from one address')
})

t.test('one session refreshing too often gets 429 with details, whatever address it uses', async (t) => {
  const { refreshToken } = await registerUser(app)
  let current = refreshToken
  for (let i = 0; i < REFRESH_LIMIT_PER_SESSION; i++) {
    const res = await refresh(app, current)
    t.equal(res.statusCode, 200, `refresh ${i + 1}`)
    current = res.json().data.refreshToken as string
  }
  const refused = await refresh(app, current)
  t.equal(refused.statusCode, 429)
  t.match(refused.json(), { success: false, code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: Number, limit: REFRESH_LIMIT_PER_SESSION, remaining: 0, resetAt: String } })
  t.equal((await refresh(app, current)).statusCode, 429, 'the refused token was not used up: it is still the current one, and still limited')
})
