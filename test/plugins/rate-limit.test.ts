import t from 'tap'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { ok } from '../../src/lib/envelope.ts'
import { HTTP_RATE_LIMITS } from '../../src/plugins/rate-limit.ts'
import { testConfig } from '../helpers/app.ts'

// 100/min × 0.05 = 5 requests a minute for "other"; send: 30 × 0.05 = 1.
const SCALE = 0.05
const OTHER_LIMIT = Math.floor(HTTP_RATE_LIMITS.other * SCALE)
const SEND_LIMIT = Math.max(1, Math.floor(HTTP_RATE_LIMITS.send * SCALE))

/** The real app with a plain route, a signed-in route and a `send` category route. */
async function appWith (env: Record<string, string>): Promise<FastifyInstance> {
  const config = await testConfig(import.meta.url, { RATE_LIMIT_SCALE: String(SCALE), ...env })
  const app = await buildApp(config)
  t.teardown(async () => { await app.close() })
  app.get('/test/ping', async () => ok({ pong: true }))
  app.get('/test/me', { onRequest: app.authenticate }, async (request) => ok({ id: request.user.id }))
  app.post('/test/send', { config: { rateLimit: app.rateLimitCategory('send') } }, async () => ok({ sent: true }))
  await app.ready()
  return app
}

const app = await appWith({})
const proxied = await appWith({ TRUST_PROXY: '127.0.0.1/32' })

let addresses = 0
/** A client address no other test uses, so each test starts with a full budget. */
function freshAddress (): string {
  addresses += 1
  return `10.77.${Math.floor(addresses / 250)}.${(addresses % 250) + 1}`
}

/** Registers a user from an address of its own (the auth limit is per address). */
async function signedInUser (name: string): Promise<{ authorization: string }> {
  const username = `${name}${process.pid}`
  const res = await app.inject({
    method: 'POST',
    url: `${app.config.apiPrefix}/auth/register`,
    remoteAddress: freshAddress(),
    payload: { email: `${username}@example.test`, username, password: 'correct horse battery staple' }
  })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  return { authorization: `Bearer ${res.json().data.token as string}` }
}

async function spend (target: FastifyInstance, count: number, request: InjectOptions): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < count; i++) statuses.push((await target.inject(request)).statusCode)
  return statuses
}

t.test('the request past the limit answers 429 RATE_LIMIT_EXCEEDED with details and headers', async (t) => {
  const remoteAddress = freshAddress()
  const first = await app.inject({ method: 'GET', url: '/test/ping', remoteAddress })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['x-ratelimit-limit'], String(OTHER_LIMIT))
  t.equal(first.headers['x-ratelimit-remaining'], String(OTHER_LIMIT - 1))
  t.same(await spend(app, OTHER_LIMIT - 1, { method: 'GET', url: '/test/ping', remoteAddress }), Array(OTHER_LIMIT - 1).fill(200))

  const before = Date.now()
  const res = await app.inject({ method: 'GET', url: '/test/ping', remoteAddress })
  t.equal(res.statusCode, 429)
  const body = res.json()
  t.match(body, {
    success: false,
    code: 'RATE_LIMIT_EXCEEDED',
    error: String,
    details: { retryAfter: Number, limit: OTHER_LIMIT, remaining: 0, resetAt: String },
    timestamp: String
  })
  t.ok(body.details.retryAfter >= 1 && body.details.retryAfter <= 60, 'retryAfter is within the one-minute window')
  const resetAt = Date.parse(body.details.resetAt)
  t.ok(resetAt > before && resetAt <= before + 61_000, 'resetAt is within the window')
  t.equal(res.headers['x-ratelimit-limit'], String(OTHER_LIMIT))
  t.equal(res.headers['x-ratelimit-remaining'], '0')
  t.ok(res.headers['x-ratelimit-reset'], 'x-ratelimit-reset is set')
  t.equal(res.headers['retry-after'], String(body.details.retryAfter))
})

t.test('an anonymous caller is limited by address: another address has its own budget', async (t) => {
  const crowded = freshAddress()
  await spend(app, OTHER_LIMIT, { method: 'GET', url: '/test/ping', remoteAddress: crowded })
  t.equal((await app.inject({ method: 'GET', url: '/test/ping', remoteAddress: crowded })).statusCode, 429)
  t.equal((await app.inject({ method: 'GET', url: '/test/ping', remoteAddress: freshAddress() })).statusCode, 200)
})

t.test('a signed-in caller is limited by user: two users on one address do not share a budget', async (t) => {
  const alice = await signedInUser('rlalice')
  const bob = await signedInUser('rlbob')
  const shared = freshAddress()
  t.same(await spend(app, OTHER_LIMIT, { method: 'GET', url: '/test/me', headers: alice, remoteAddress: shared }), Array(OTHER_LIMIT).fill(200))
  t.equal((await app.inject({ method: 'GET', url: '/test/me', headers: alice, remoteAddress: shared })).statusCode, 429)
  t.equal((await app.inject({ method: 'GET', url: '/test/me', headers: bob, remoteAddress: shared })).statusCode, 200)
  // Alice's budget follows her to another address.
  t.equal((await app.inject({ method: 'GET', url: '/test/me', headers: alice, remoteAddress: freshAddress() })).statusCode, 429)
})

t.test('a route category has its own limit', async (t) => {
  const remoteAddress = freshAddress()
  t.same(await spend(app, SEND_LIMIT, { method: 'POST', url: '/test/send', remoteAddress }), Array(SEND_LIMIT).fill(200))
  const res = await app.inject({ method: 'POST', url: '/test/send', remoteAddress })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: SEND_LIMIT } })
  t.equal((await app.inject({ method: 'GET', url: '/test/ping', remoteAddress })).statusCode, 200, 'other routes keep their budget')
})

t.test('without TRUST_PROXY, x-forwarded-for is ignored', async (t) => {
  const remoteAddress = freshAddress()
  let i = 0
  const statuses: number[] = []
  for (; i <= OTHER_LIMIT; i++) {
    const res = await app.inject({ method: 'GET', url: '/test/ping', remoteAddress, headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [...Array(OTHER_LIMIT).fill(200), 429], 'a new forwarded address each time does not buy a new budget')
})

t.test('with TRUST_PROXY, the forwarded client address of a trusted proxy is the key', async (t) => {
  // inject connects from 127.0.0.1, the trusted proxy.
  await spend(proxied, OTHER_LIMIT, { method: 'GET', url: '/test/ping', headers: { 'x-forwarded-for': '198.51.100.7' } })
  t.equal((await proxied.inject({ method: 'GET', url: '/test/ping', headers: { 'x-forwarded-for': '198.51.100.7' } })).statusCode, 429)
  t.equal((await proxied.inject({ method: 'GET', url: '/test/ping', headers: { 'x-forwarded-for': '198.51.100.8' } })).statusCode, 200)
})

t.test('with TRUST_PROXY, x-forwarded-for from an untrusted peer is ignored', async (t) => {
  const remoteAddress = freshAddress()
  const statuses: number[] = []
  for (let i = 0; i <= OTHER_LIMIT; i++) {
    const res = await proxied.inject({ method: 'GET', url: '/test/ping', remoteAddress, headers: { 'x-forwarded-for': `192.0.2.${i + 1}` } })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [...Array(OTHER_LIMIT).fill(200), 429])
})

t.test('the not-found handler is rate-limited', async (t) => {
  const remoteAddress = freshAddress()
  t.same(await spend(app, OTHER_LIMIT, { method: 'GET', url: '/no/such/route', remoteAddress }), Array(OTHER_LIMIT).fill(404))
  const res = await app.inject({ method: 'GET', url: '/no/such/route', remoteAddress })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { success: false, code: 'RATE_LIMIT_EXCEEDED', details: { limit: OTHER_LIMIT, remaining: 0 } })
})
