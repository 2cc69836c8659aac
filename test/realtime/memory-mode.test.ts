import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MEMORY_STORE_SWEEP_MS, type MemoryTable } from '../../src/lib/store/memory-table.ts'
import { consumeWsTicket, WS_TICKET_TTL_SECONDS } from '../../src/modules/auth/tickets.ts'
import { LOGIN_FAILURE_LIMITS, LOGIN_FAILURE_WINDOW_MS } from '../../src/modules/auth/login-throttle.ts'
import { HTTP_RATE_LIMITS, RATE_LIMIT_WINDOW_MS } from '../../src/plugins/rate-limit.ts'
import { buildTestApp } from '../helpers/app.ts'
import { ManualClock } from '../helpers/clock.ts'
import { registerUser, uniqueClientIp } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs, type Frame, type WsClient } from '../helpers/ws.ts'

// REDIS_URL=memory runs one instance without Redis (DESIGN §6): the gateway, presence and
// typing work the same on the in-process store.
const app = await buildTestApp(t, import.meta.url, { env: { REDIS_URL: 'memory', PRESENCE_GRACE_MS: '100', TYPING_TTL_MS: '200' } })
const api = app.config.apiPrefix

t.test('messages, typing and presence work on a single node without Redis', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const a = await connectWs(app, { token: alice.token })
  const b = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await b.close() })
  for (const client of [a, b]) t.match((await client.request('chat:join_group', { groupId })).payload, { success: true, subscriberCount: Number })
  const ack = await a.request('chat:send_message', { groupId, content: 'no redis' })
  t.match(ack.payload, { success: true, seq: 1, deliveredToCount: 1, queuedForCount: 0 })
  t.equal((await b.next('chat:message')).payload.seq, 1)
  a.send({ type: 'chat:typing_start', payload: { groupId } })
  t.match((await b.next('chat:typing')).payload, { userId: alice.user.id, isTyping: true })
  const typing = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.match(typing.json().data, { typingUsers: [{ userId: alice.user.id }] })
  t.match((await b.next('chat:typing', undefined, 2000)).payload, { userId: alice.user.id, isTyping: false })
  const presence = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: bob.auth })
  t.match((presence.json().data.presence as Array<{ userId: number }>).find((p) => p.userId === alice.user.id), { status: 'online' })
  await a.close()
  t.match((await b.next('chat:presence', (f) => f.payload.userId === alice.user.id && f.payload.status === 'offline', 2000)).payload, { status: 'offline' })
})

// A second single node on a clock the tests move: its in-process store expires on that clock.
const GRACE_MS = 30_000
const clock = new ManualClock()
const timed = await buildTestApp(t, import.meta.url, { clock, env: { REDIS_URL: 'memory', PRESENCE_GRACE_MS: String(GRACE_MS), WS_MAX_CONNECTIONS_PER_USER: '2' } })

function tableOf (node: FastifyInstance): MemoryTable {
  const { backend } = node.store
  if (backend.kind !== 'memory') throw new Error('not a single node')
  return backend.table
}

/** Closes the user's last connection and waits until the node has set their offline check. */
async function closeLast (client: WsClient): Promise<void> {
  const mark = clock.mark()
  await client.close()
  await clock.scheduled(mark, (delayMs) => delayMs >= GRACE_MS)
}

t.test('/ready answers ready with the in-process store on a single node', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { status: 'ready', mysql: 'up', redis: 'memory' } })
})

t.test('HTTP rate limits on a single node hold, and a window ends on the clock', async (t) => {
  const remoteAddress = '10.99.0.1'
  const statuses: number[] = []
  for (let i = 0; i <= HTTP_RATE_LIMITS.other; i++) statuses.push((await timed.inject({ method: 'GET', url: '/no/such/route', remoteAddress })).statusCode)
  t.same(statuses, [...Array<number>(HTTP_RATE_LIMITS.other).fill(404), 429])
  await clock.advance(RATE_LIMIT_WINDOW_MS - 1)
  t.equal((await timed.inject({ method: 'GET', url: '/no/such/route', remoteAddress })).statusCode, 429, 'a millisecond before the window ends')
  await clock.advance(1)
  t.equal((await timed.inject({ method: 'GET', url: '/no/such/route', remoteAddress })).statusCode, 404, 'a fresh window')
})

t.test('expired rate-limit windows leave a single node\'s memory without being read', async (t) => {
  const table = tableOf(timed)
  const before = table.size
  for (let i = 0; i < 200; i++) await timed.inject({ method: 'GET', url: '/no/such/route', remoteAddress: `10.98.${Math.floor(i / 250)}.${(i % 250) + 1}` })
  t.equal(table.size, before + 200, 'one window per address')
  await clock.advance(RATE_LIMIT_WINDOW_MS + MEMORY_STORE_SWEEP_MS)
  t.ok(table.size <= before, `swept: ${table.size} entries left of ${before + 200}`)
})

t.test('a ws-ticket on a single node is single use and lapses after 30 s', async (t) => {
  const alice = await registerUser(timed)
  const issue = async (): Promise<string> => (await timed.inject({ method: 'POST', url: `${timed.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })).json().data.ticket
  const ticket = await issue()
  t.match(await consumeWsTicket(timed.store, ticket), { id: alice.user.id })
  t.equal(await consumeWsTicket(timed.store, ticket), null, 'used once')
  const unused = await issue()
  await clock.advance(WS_TICKET_TTL_SECONDS * 1000)
  t.equal(await consumeWsTicket(timed.store, unused), null, 'expired')
})

t.test('failed sign-ins on a single node lock the account at that address until the window ends', async (t) => {
  const { user, password } = await registerUser(timed)
  const address = uniqueClientIp()
  const login = async (pass: string): Promise<number> => (await timed.inject({
    method: 'POST', url: `${timed.config.apiPrefix}/auth/login`, remoteAddress: address, payload: { email: user.email, password: pass }
  })).statusCode
  for (let i = 0; i < LOGIN_FAILURE_LIMITS.pair; i++) t.equal(await login('wrong password'), 401)
  t.equal(await login(password), 429)
  const refused = await timed.inject({ method: 'POST', url: `${timed.config.apiPrefix}/auth/login`, remoteAddress: address, payload: { email: user.email, password } })
  t.equal(refused.json().details.resetAt, new Date(clock.now() + LOGIN_FAILURE_WINDOW_MS).toISOString(), 'resetAt on the clock the window runs on')
  await clock.advance(LOGIN_FAILURE_WINDOW_MS)
  t.equal(await login(password), 200)
})

t.test('the per-user connection limit holds on a single node', async (t) => {
  const alice = await registerUser(timed)
  const first = await connectWs(timed, { token: alice.token })
  const second = await connectWs(timed, { token: alice.token })
  await Promise.all([first.next('chat:sync'), second.next('chat:sync')])
  const third = await connectWs(timed, { token: alice.token })
  t.equal((await third.closed).code, 4429)
  await first.close()
  await closeLast(second)
})

t.test('a single node counts each subscribed connection once', async (t) => {
  const alice = await registerUser(timed)
  const bob = await registerUser(timed)
  const groupId = await createGroup(timed, alice, [bob])
  const a = await connectWs(timed, { token: alice.token })
  const b = await connectWs(timed, { token: bob.token })
  t.teardown(async () => {
    await closeLast(a)
    await closeLast(b)
  })
  t.match((await a.request('chat:join_group', { groupId })).payload, { subscriberCount: 1 })
  t.match((await b.request('chat:join_group', { groupId })).payload, { subscriberCount: 2 })
  await a.request('chat:leave_group', { groupId })
  t.match((await a.request('chat:join_group', { groupId })).payload, { subscriberCount: 2 }, 'a rejoin is still one')
})

t.test('on a single node the user goes offline exactly when the grace ends', async (t) => {
  const alice = await registerUser(timed)
  const bob = await registerUser(timed)
  const groupId = await createGroup(timed, alice, [bob])
  const watcher = await connectWs(timed, { token: bob.token })
  t.teardown(async () => { await closeLast(watcher) })
  await watcher.request('chat:join_group', { groupId })
  const client = await connectWs(timed, { token: alice.token })
  const isAlice = (status: string) => (f: Frame): boolean => f.payload.userId === alice.user.id && f.payload.status === status
  await watcher.next('chat:presence', isAlice('online'))
  await closeLast(client)
  await clock.advance(GRACE_MS - 1)
  t.ok(await watcher.quiet('chat:presence', 150, isAlice('offline')))
  await clock.advance(10)
  t.match((await watcher.next('chat:presence', isAlice('offline'), 3000)).payload, { status: 'offline' })
})
