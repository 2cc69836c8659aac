import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { appRedis, buildTestApp } from '../../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../../helpers/users.ts'
import { LOGIN_FAILURE_LIMITS, LOGIN_FAILURE_WINDOW_MS } from '../../../src/modules/auth/login-throttle.ts'
import { loginKeys } from '../../../src/lib/store/keys.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)
const redis = appRedis(t, app)

const url = '/mirror/api/auth/login'

async function login (app: FastifyInstance, payload: Record<string, unknown>, remoteAddress = uniqueClientIp()) {
  return await app.inject({ method: 'POST', url, remoteAddress, payload })
}

const withoutTimestamp = (body: string): Record<string, unknown> => {
  const { timestamp: _timestamp, ...rest } = JSON.parse(body) as Record<string, unknown>
  return rest
}

t.test('a user signs in by email, in any letter case, and the token works', async (t) => {
  const { user, password } = await registerUser(app, { email: 'mixed.case@example.test' })
  const res = await login(app, { email: 'Mixed.Case@EXAMPLE.test', password })
  t.equal(res.statusCode, 200)
  const data = res.json().data
  t.match(data, { token: String, refreshToken: String, user })
  const me = await app.inject({ method: 'GET', url: '/mirror/api/auth/me', headers: { authorization: `Bearer ${data.token}` } })
  t.equal(me.statusCode, 200)
  t.same(me.json().data, { user })
})

t.test('a user signs in by username', async (t) => {
  const { user, password } = await registerUser(app)
  const res = await login(app, { username: user.username, password })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { token: String, refreshToken: String, user } })
})

t.test('each sign-in opens a session of its own', async (t) => {
  const { user, password } = await registerUser(app)
  const a = (await login(app, { username: user.username, password })).json().data
  const b = (await login(app, { email: user.email, password })).json().data
  const sessionOf = (token: string) => app.jwt.decode<{ sessionId: string }>(token)?.sessionId
  t.not(sessionOf(a.token), sessionOf(b.token))
  t.not(a.refreshToken, b.refreshToken)
})

t.test('a wrong password and an unknown user get the same status and body', async (t) => {
  const { user } = await registerUser(app)
  const wrongPassword = await login(app, { email: user.email, password: 'not the password' })
  const unknownUser = await login(app, { email: 'nobody@example.test', password: 'not the password' })
  const unknownName = await login(app, { username: 'nobody_here', password: 'not the password' })
  t.equal(wrongPassword.statusCode, 401)
  t.equal(unknownUser.statusCode, 401)
  t.equal(unknownName.statusCode, 401)
  t.match(wrongPassword.json(), { success: false, code: 'UNAUTHORIZED' })
  t.same(withoutTimestamp(unknownUser.body), withoutTimestamp(wrongPassword.body))
  t.same(withoutTimestamp(unknownName.body), withoutTimestamp(wrongPassword.body))
  // Byte-identical, not merely equivalent: the same keys in the same order.
  const strip = (body: string) => body.replace(/"timestamp":"[^"]*"/, '')
  t.equal(strip(unknownUser.body), strip(wrongPassword.body))
})

t.test('a user without a password (external identity) cannot sign in with one', async (t) => {
  const { user, password } = await registerUser(app)
  await app.db.updateTable('users').set({ password_hash: null }).where('id', '=', user.id).execute()
  const res = await login(app, { email: user.email, password })
  t.equal(res.statusCode, 401)
  t.match(res.json(), { code: 'UNAUTHORIZED' })
})

const invalidBodies: Array<[string, Record<string, unknown>, string]> = [
  ['both email and username', { email: 'a@example.test', username: 'someone', password: 'whatever password' }, 'username'],
  ['neither email nor username', { password: 'whatever password' }, 'email'],
  ['no password', { email: 'a@example.test' }, 'password'],
  ['a password over 128 characters', { email: 'a@example.test', password: 'p'.repeat(129) }, 'password'],
  ['an email over 254 characters', { email: `${'a'.repeat(260)}@x.io`, password: 'whatever password' }, 'email'],
  ['an unknown field', { email: 'a@example.test', password: 'whatever password', remember: true }, 'remember']
]

for (const [what, payload, field] of invalidBodies) {
  t.test(`signing in with ${what} answers 400 naming the field`, async (t) => {
    const res = await login(app, payload)
    t.equal(res.statusCode, 400)
    const body = res.json()
    t.match(body, { success: false, code: 'VALIDATION_ERROR', validationErrors: Array })
    t.ok(body.validationErrors.some((e: { field: string }) => e.field === field), `validationErrors name ${field}: ${res.body}`)
  })
}

t.test('five failed sign-ins from one address lock that account for that address, even with the right password, with rate limit details', async (t) => {
  const { user, password } = await registerUser(app)
  const address = uniqueClientIp()
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair; i++) {
    const res = await login(app, { email: user.email, password: `wrong password ${i}` }, address)
    t.equal(res.statusCode, 401, `failure ${i + 1} is a plain 401`)
  }
  const locked = await login(app, { username: user.username, password }, address)
  t.equal(locked.statusCode, 429)
  const body = locked.json()
  t.match(body, { success: false, code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: Number, limit: LOGIN_FAILURE_LIMITS.pair, remaining: 0, resetAt: String } })
  t.ok(body.details.retryAfter > 0 && body.details.retryAfter <= LOGIN_FAILURE_WINDOW_MS / 1000)
  t.ok(Date.parse(body.details.resetAt) > Date.now())
})

t.test('the right password from a fresh address still works after an attacker\'s failures from many other addresses', async (t) => {
  const { user, password } = await registerUser(app)
  for (let i = 0; i < 30; i++) {
    t.equal((await login(app, { email: user.email, password: `guess ${i}` })).statusCode, 401, `attacker failure ${i + 1}`)
  }
  const owner = await login(app, { email: user.email, password })
  t.equal(owner.statusCode, 200)
  t.match(owner.json().data, { token: String, user: { id: user.id } })
})

t.test('past the account\'s free failures, an address that failed on it waits before its next try, twice as long each time', async (t) => {
  const { user, password } = await registerUser(app)
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.accountFree; i++) {
    const address = uniqueClientIp()
    t.equal((await login(app, { email: user.email, password: 'wrong password' }, address)).statusCode, 401)
    t.equal(await redis.exists(loginKeys.wait(`user:${user.id}`, address)), 0, `no wait within the free failures (${i + 1})`)
  }
  const first = uniqueClientIp()
  t.equal((await login(app, { email: user.email, password: 'wrong password' }, first)).statusCode, 401)
  const slowed = await login(app, { email: user.email, password }, first)
  t.equal(slowed.statusCode, 429, 'even the right password waits at that address')
  t.match(slowed.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: 1, limit: 1, remaining: 0 } })

  const second = uniqueClientIp()
  t.equal((await login(app, { email: user.email, password: 'wrong password' }, second)).statusCode, 401)
  const wait = await redis.pttl(loginKeys.wait(`user:${user.id}`, second))
  t.ok(wait > 1000 && wait <= 2000, `the next failure waits 2 s: ${wait} ms`)
  t.match((await login(app, { email: user.email, password }, second)).json(), { details: { retryAfter: 2 } })

  // Stand-in for the 1 s wait running out: the expiry of its key is what lifts it.
  await redis.del(loginKeys.wait(`user:${user.id}`, first))
  t.equal((await login(app, { email: user.email, password }, first)).statusCode, 200, 'after its wait the address signs in')
})

t.test('an unknown account is throttled just like a known one', async (t) => {
  const address = uniqueClientIp()
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair; i++) {
    t.equal((await login(app, { email: 'ghost@example.test', password: `wrong password ${i}` }, address)).statusCode, 401)
  }
  const locked = await login(app, { email: 'ghost@example.test', password: 'another guess' }, address)
  t.equal(locked.statusCode, 429)
  t.match(locked.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: LOGIN_FAILURE_LIMITS.pair } })
})

t.test('a successful sign-in clears that address\'s failures on the account and the account\'s count', async (t) => {
  const { user, password } = await registerUser(app)
  const address = uniqueClientIp()
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair - 1; i++) {
    await login(app, { email: user.email, password: 'wrong password' }, address)
  }
  t.equal((await login(app, { email: user.email, password }, address)).statusCode, 200)
  t.equal(await redis.get(loginKeys.pair(`user:${user.id}`, address)), null)
  t.equal(await redis.get(loginKeys.account(`user:${user.id}`)), null)
  // Four more failures do not lock it: the count started again.
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair - 1; i++) {
    t.equal((await login(app, { email: user.email, password: 'wrong password' }, address)).statusCode, 401)
  }
  t.equal((await login(app, { email: user.email, password }, address)).statusCode, 200)
})

t.test('IPv6 clients are counted by their /64 network', async (t) => {
  const { user, password } = await registerUser(app)
  const network = `2001:db8:${(process.pid % 65536).toString(16)}:${(Date.now() % 65536).toString(16)}`
  for (let i = 1; i <= LOGIN_FAILURE_LIMITS.pair; i++) {
    t.equal((await login(app, { email: user.email, password: 'wrong password' }, `${network}::${i}`)).statusCode, 401)
  }
  t.equal((await login(app, { email: user.email, password }, `${network}:abcd::99`)).statusCode, 429, 'another address of the same /64 is the same client')
  t.equal((await login(app, { email: user.email, password }, `2001:db8:ffff:${(process.pid % 65536).toString(16)}::1`)).statusCode, 200, 'another /64 is another client')
})

t.test('failed sign-ins are counted per client IP in Redis with an expiry', async (t) => {
  const ip = uniqueClientIp()
  await login(app, { email: 'first@example.test', password: 'wrong password' }, ip)
  await login(app, { username: 'second_user', password: 'wrong password' }, ip)
  t.equal(await redis.get(loginKeys.address(ip)), '2')
  const ttl = await redis.pttl(loginKeys.address(ip))
  t.ok(ttl > 0 && ttl <= 15 * 60_000, `ttl ${ttl}`)
})

t.test('a client IP with too many failed sign-ins gets 429 even for another account', async (t) => {
  const { user, password } = await registerUser(app)
  const ip = uniqueClientIp()
  // As if this address had failed the limit's worth of sign-ins across many accounts.
  await redis.set(loginKeys.address(ip), String(LOGIN_FAILURE_LIMITS.address - 1), 'PX', 60_000)
  t.equal((await login(app, { email: 'victim@example.test', password: 'wrong password' }, ip)).statusCode, 401)
  const res = await login(app, { email: user.email, password }, ip)
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: Number, limit: LOGIN_FAILURE_LIMITS.address, remaining: 0, resetAt: String } })
  // The same account from another address is fine.
  t.equal((await login(app, { email: user.email, password })).statusCode, 200)
})

t.test('sign-in requests are limited per client IP by the auth category with 429 and details', async (t) => {
  const ip = uniqueClientIp()
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) {
    statuses.push((await login(app, { username: `nobody${i}`, password: 'wrong password' }, ip)).statusCode)
  }
  t.same(statuses, [...Array<number>(20).fill(401), 429])
  const res = await login(app, { username: 'nobody', password: 'wrong password' }, ip)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: Number, limit: 20, remaining: 0, resetAt: String } })
})
