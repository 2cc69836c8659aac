import t from 'tap'
import { createHash } from 'node:crypto'
import { appRedis, buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { consumeWsTicket, WS_TICKET_TTL_SECONDS } from '../../../src/modules/auth/tickets.ts'
import { wsTicketKey } from '../../../src/lib/store/keys.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)
const redis = appRedis(t, app)

const url = '/mirror/api/auth/ws-ticket'
const keyOf = (ticket: string): string => wsTicketKey(createHash('sha256').update(ticket).digest('hex'))

t.test('a ws-ticket is issued for 30 seconds', async (t) => {
  const { auth } = await registerUser(app)
  const res = await app.inject({ method: 'POST', url, headers: auth })
  t.equal(res.statusCode, 200)
  const data = res.json().data
  t.match(data, { ticket: String, expiresIn: 30, expiresAt: String })
  const remainingMs = Date.parse(data.expiresAt) - Date.now()
  t.ok(remainingMs > 0 && remainingMs <= 30_000, `expiresAt is within 30 s: ${remainingMs}`)
})

/** The session and expiry (ms) of an access token. */
const claimsOf = (token: string) => {
  const decoded = app.jwt.decode<{ sessionId: string, exp: number }>(token)
  return { sessionId: decoded?.sessionId, expiresAt: (decoded?.exp ?? 0) * 1000 }
}

t.test('the ticket is stored in Redis only by its hash, with the caller, their token\'s expiry and a TTL of at most 30 s', async (t) => {
  const { user, token, auth } = await registerUser(app)
  const { ticket } = (await app.inject({ method: 'POST', url, headers: auth })).json().data
  const ttl = await redis.ttl(keyOf(ticket))
  t.ok(ttl > 0 && ttl <= WS_TICKET_TTL_SECONDS, `ttl ${ttl}`)
  const stored = JSON.parse(await redis.get(keyOf(ticket)) ?? 'null')
  t.same(stored, { id: user.id, username: user.username, email: user.email, ...claimsOf(token) })
  t.equal(await redis.exists(wsTicketKey(ticket)), 0, 'the raw ticket is not a key')
  // The plugin's key prefix applies: the key lives under the app's namespace.
  const unprefixed = redis.duplicate({ keyPrefix: '' })
  t.teardown(() => { unprefixed.disconnect() })
  t.equal(await unprefixed.exists(`${app.config.redisKeyPrefix}${keyOf(ticket)}`), 1)
})

t.test('consuming a ticket returns the caller once and null the second time', async (t) => {
  const { user, token, auth } = await registerUser(app)
  const { ticket } = (await app.inject({ method: 'POST', url, headers: auth })).json().data
  t.same(await consumeWsTicket(app.store, ticket), { id: user.id, username: user.username, email: user.email, ...claimsOf(token) })
  t.equal(await consumeWsTicket(app.store, ticket), null)
})

t.test('two connections racing with one ticket: exactly one gets the caller', async (t) => {
  const { auth } = await registerUser(app)
  const { ticket } = (await app.inject({ method: 'POST', url, headers: auth })).json().data
  const results = await Promise.all([consumeWsTicket(app.store, ticket), consumeWsTicket(app.store, ticket), consumeWsTicket(app.store, ticket)])
  t.equal(results.filter((r) => r !== null).length, 1)
})

t.test('an expired ticket is refused', async (t) => {
  const { auth } = await registerUser(app)
  const { ticket } = (await app.inject({ method: 'POST', url, headers: auth })).json().data
  // Stand-in for 30 s passing: the key's expiry is what makes the ticket lapse.
  await redis.pexpire(keyOf(ticket), 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await consumeWsTicket(app.store, ticket), null)
})

t.test('unknown and malformed tickets are refused', async (t) => {
  t.equal(await consumeWsTicket(app.store, 'A'.repeat(43)), null)
  t.equal(await consumeWsTicket(app.store, ''), null)
  t.equal(await consumeWsTicket(app.store, 'x'.repeat(10_000)), null)
  t.equal(await consumeWsTicket(app.store, 'not a ticket!'), null)
})

t.test('every request gets a different ticket', async (t) => {
  const { auth } = await registerUser(app)
  const a = (await app.inject({ method: 'POST', url, headers: auth })).json().data.ticket
  const b = (await app.inject({ method: 'POST', url, headers: auth })).json().data.ticket
  t.not(a, b)
})

t.test('a ws-ticket needs a valid access token', async (t) => {
  const res = await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer nonsense' } })
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
})
