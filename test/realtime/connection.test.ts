import t from 'tap'
import WebSocket from 'ws'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { connectWs, wsUrl } from '../helpers/ws.ts'
import { until } from '../helpers/wait.ts'

// One app for the tests that run on the default configuration; the others build their own.
const shared = await buildTestApp(t, import.meta.url)
const restricted = await buildTestApp(t, import.meta.url, {
  env: { WS_AUTH_TIMEOUT_MS: '200', WS_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com', WS_MAX_PAYLOAD_BYTES: '2048' }
})
const limited = await buildTestApp(t, import.meta.url, { env: { WS_MAX_CONNECTIONS_PER_USER: '2' } })

t.test('a connection with ?token= is authenticated and gets chat:sync first', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const client = await connectWs(app, { token: alice.token })
  const sync = await client.next('chat:sync')
  t.same(sync.payload, { groups: [], unreadNotifications: 0 })
  t.equal(client.frames[0]?.type, 'chat:sync')
  await client.close()
})

t.test('an invalid token closes the connection with 4001 before any event', async (t) => {
  const app = shared
  const client = await connectWs(app, { token: 'not-a-jwt' })
  const closed = await client.closed
  t.equal(closed.code, 4001)
  t.same(client.frames, [])
})

t.test('a token of a logged-out session closes with 4001', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/logout`, headers: alice.auth })
  t.equal(res.statusCode, 200)
  const client = await connectWs(app, { token: alice.token })
  t.equal((await client.closed).code, 4001)
})

t.test('a ws-ticket authenticates once; a reused ticket closes with 4001', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })
  const { ticket } = res.json().data as { ticket: string }
  const first = await connectWs(app, { ticket })
  await first.next('chat:sync')
  const second = await connectWs(app, { ticket })
  t.equal((await second.closed).code, 4001)
  t.same(second.frames, [])
  await first.close()
})

t.test('a ws-ticket issued before its session logged out is refused with 4001', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })
  const { ticket } = res.json().data as { ticket: string }
  t.equal((await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/logout`, headers: alice.auth })).statusCode, 200)
  const client = await connectWs(app, { ticket })
  t.equal((await client.closed).code, 4001)
  t.same(client.frames, [], 'no event before the close')
})

t.test('a first auth frame authenticates a connection opened without credentials', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const client = await connectWs(app)
  client.send({ type: 'auth', token: alice.token, requestId: 'auth-1' })
  // Sent before the auth completes: it must queue behind it, not be lost or refused.
  client.send({ type: 'ping', payload: {}, requestId: 'ping-1' })
  const ack = await client.next('chat:ack', (f) => f.requestId === 'auth-1')
  t.match(ack.payload, { success: true, userId: alice.user.id })
  await client.next('chat:sync')
  await client.next('pong', (f) => f.requestId === 'ping-1')
  await client.close()
})

t.test('an auth frame on an authenticated connection refreshes the token for the same user only', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const client = await connectWs(app, { token: alice.token })
  t.teardown(async () => { await client.close() })
  await client.next('chat:sync')
  const login = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/login`, payload: { username: alice.user.username, password: alice.password } })
  const fresh = (login.json().data as { token: string }).token
  client.send({ type: 'auth', token: fresh, requestId: 'refresh' })
  t.match(await client.next('chat:ack', (f) => f.requestId === 'refresh'), { payload: { success: true } })
  client.send({ type: 'auth', token: bob.token, requestId: 'swap' })
  t.match(await client.next('chat:error', (f) => f.requestId === 'swap'), { payload: { code: 'FORBIDDEN' } })
  client.send({ type: 'auth', token: 'expired-or-forged', requestId: 'bad' })
  t.match(await client.next('chat:error', (f) => f.requestId === 'bad'), { payload: { code: 'UNAUTHORIZED' } })
  t.equal((await client.request('ping', {})).type, 'chat:ack', 'the connection stays as it was')
})

t.test('an auth frame with a bad token closes with 4001', async (t) => {
  const app = shared
  const client = await connectWs(app)
  client.send({ type: 'auth', token: 'garbage' })
  t.equal((await client.closed).code, 4001)
  t.same(client.frames, [])
})

t.test('any other first frame on an unauthenticated connection closes with 4001', async (t) => {
  const app = shared
  const client = await connectWs(app)
  client.send({ type: 'chat:join_group', payload: { groupId: '0190a0a0-0000-7000-8000-000000000000' } })
  t.equal((await client.closed).code, 4001)
})

t.test('no auth frame within the auth timeout closes with 4001', async (t) => {
  const app = restricted
  const client = await connectWs(app)
  const closed = await client.closed
  t.equal(closed.code, 4001)
  t.match(closed.reason, /timed out/)
})

t.test('frames sent right after the upgrade are handled (handlers attach before any await)', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const url = new URL(await wsUrl(app))
  url.searchParams.set('token', alice.token)
  const ws = new WebSocket(url)
  const received: Array<{ type: string, requestId?: string }> = []
  ws.on('message', (data: Buffer) => { received.push(JSON.parse(data.toString()) as { type: string, requestId?: string }) })
  ws.on('open', () => {
    for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ type: 'ping', payload: {}, requestId: `p${i}` }))
  })
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (received.filter((f) => f.type === 'chat:ack').length === 5) { clearInterval(timer); resolve() }
    }, 10)
  })
  t.same(received.filter((f) => f.type === 'pong').map((f) => f.requestId), ['p0', 'p1', 'p2', 'p3', 'p4'])
  ws.close()
})

t.test('an Origin outside WS_ALLOWED_ORIGINS closes with 4003; an allowed one connects', async (t) => {
  const app = restricted
  const alice = await registerUser(app)
  const evil = await connectWs(app, { token: alice.token, headers: { origin: 'https://evil.example.net' } })
  t.equal((await evil.closed).code, 4003)
  t.same(evil.frames, [])
  const good = await connectWs(app, { token: alice.token, headers: { origin: 'https://admin.example.com' } })
  await good.next('chat:sync')
  await good.close()
})

t.test('a frame larger than WS_MAX_PAYLOAD_BYTES closes with 1009', async (t) => {
  const app = restricted
  const alice = await registerUser(app)
  const client = await connectWs(app, { token: alice.token })
  await client.next('chat:sync')
  client.send({ type: 'ping', payload: { padding: 'x'.repeat(4096) } })
  t.equal((await client.closed).code, 1009)
})

t.test('a user past WS_MAX_CONNECTIONS_PER_USER is refused with 4429; a closed slot frees up', async (t) => {
  const app = limited
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const a1 = await connectWs(app, { token: alice.token })
  const a2 = await connectWs(app, { token: alice.token })
  await a1.next('chat:sync')
  await a2.next('chat:sync')
  const a3 = await connectWs(app, { token: alice.token })
  t.equal((await a3.closed).code, 4429)
  // Another user is not affected.
  const b1 = await connectWs(app, { token: bob.token })
  await b1.next('chat:sync')
  await a1.close()
  // The slot is released once the server has seen the close.
  await until(() => app.gateway.connections().filter((c) => c.userId === alice.user.id).length === 1)
  const a4 = await connectWs(app, { token: alice.token })
  await a4.next('chat:sync')
  await Promise.all([a2.close(), a4.close(), b1.close()])
})

t.test('the connection limit counts connections on every instance', async (t) => {
  const a = limited
  const b = await buildTestApp(t, import.meta.url, { env: { WS_MAX_CONNECTIONS_PER_USER: '2' } })
  const alice = await registerUser(a)
  const onA = await connectWs(a, { token: alice.token })
  const onB = await connectWs(b, { token: alice.token })
  await onA.next('chat:sync')
  await onB.next('chat:sync')
  const third = await connectWs(b, { token: alice.token })
  t.equal((await third.closed).code, 4429)
  await Promise.all([onA.close(), onB.close()])
})

t.test('a plain HTTP request to the WebSocket path is not upgraded and consumes no ticket', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })
  const { ticket } = res.json().data as { ticket: string }
  const plain = await app.inject({ method: 'GET', url: `${app.config.ws.path}?ticket=${ticket}` })
  t.equal(plain.statusCode, 404)
  t.match(plain.json(), { success: false, code: 'NOT_FOUND', error: /only accepts WebSocket upgrades/ })
  const client = await connectWs(app, { ticket })
  await client.next('chat:sync')
  await client.close()
})
