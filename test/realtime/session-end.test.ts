import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, uniqueClientIp, type TestUser } from '../helpers/users.ts'
import { type Closed, connectWs, type WsClient } from '../helpers/ws.ts'

// DESIGN §6 "Sessions end everywhere at once": two instances on the same database and Redis.
// A session ended on one (logout, refresh-token reuse, password change) closes its sockets on
// both with 4001 within a second, and neither trusts it from its session cache any longer.

const env = { RATE_LIMIT_SCALE: '100' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

interface Session { token: string, refreshToken: string, auth: { authorization: string } }

/** Another session of the same user, by signing in again. */
async function signIn (app: FastifyInstance, user: TestUser): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: `${api}/auth/login`, remoteAddress: uniqueClientIp(), payload: { username: user.user.username, password: user.password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  const data = res.json().data as { token: string, refreshToken: string }
  return { ...data, auth: { authorization: `Bearer ${data.token}` } }
}

/** An open socket, past its chat:sync. */
async function socket (t: { teardown: (fn: () => unknown) => void }, app: FastifyInstance, session: { token: string }): Promise<WsClient> {
  const client = await connectWs(app, { token: session.token })
  t.teardown(async () => { await client.close() })
  await client.next('chat:sync')
  return client
}

/** How the socket closed, and how long after `since` — or null if it is still open after `ms`. */
async function closedWithin (client: WsClient, since: number, ms = 1000): Promise<(Closed & { afterMs: number }) | null> {
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    client.closed.then((c) => ({ ...c, afterMs: Date.now() - since })),
    new Promise<null>((resolve) => { timer = setTimeout(() => { resolve(null) }, ms) })
  ])
  clearTimeout(timer)
  return closed
}

/** True when the socket still answers a ping. */
async function answers (client: WsClient): Promise<boolean> {
  return (await client.request('ping', {}, 2000).catch(() => null))?.type === 'chat:ack'
}

async function me (app: FastifyInstance, session: { auth: { authorization: string } }): Promise<number> {
  return (await app.inject({ method: 'GET', url: `${api}/auth/me`, headers: session.auth })).statusCode
}

t.test('logging out on one instance closes that session\'s sockets on both with 4001 within a second', async (t) => {
  const alice = await registerUser(a)
  const onB = await socket(t, b, alice)
  const onA = await socket(t, a, alice)
  const started = Date.now()
  t.equal((await a.inject({ method: 'POST', url: `${api}/auth/logout`, headers: alice.auth })).statusCode, 200)
  for (const [name, client] of [['instance B', onB], ['instance A', onA]] as const) {
    const closed = await closedWithin(client, started)
    t.equal(closed?.code, 4001, `${name}: closed with 4001`)
    t.equal(closed?.reason, 'Session ended')
    t.ok(closed !== null && closed.afterMs < 1000, `${name}: within a second (${closed?.afterMs ?? '-'} ms)`)
  }
})

t.test('logging out leaves the user\'s other sessions and their sockets alone', async (t) => {
  const alice = await registerUser(a)
  const phone = await signIn(a, alice)
  const laptopSocket = await socket(t, b, alice)
  const phoneSocket = await socket(t, b, phone)
  const phoneSocketOnA = await socket(t, a, phone)
  await a.inject({ method: 'POST', url: `${api}/auth/logout`, headers: alice.auth })
  t.equal((await closedWithin(laptopSocket, Date.now()))?.code, 4001)
  t.equal(await closedWithin(phoneSocket, Date.now(), 300), null, 'the other session\'s socket on B stays open')
  t.ok(await answers(phoneSocket))
  t.ok(await answers(phoneSocketOnA), 'and on A')
  t.equal(await me(b, phone), 200)
})

t.test('a reused refresh token closes the revoked session\'s sockets on both instances with 4001 within a second', async (t) => {
  const alice = await registerUser(a)
  const other = await signIn(a, alice)
  const onB = await socket(t, b, alice)
  const onA = await socket(t, a, alice)
  const otherOnB = await socket(t, b, other)
  const refresh = async (refreshToken: string) =>
    await a.inject({ method: 'POST', url: `${api}/auth/refresh`, remoteAddress: uniqueClientIp(), payload: { refreshToken } })
  t.equal((await refresh(alice.refreshToken)).statusCode, 200)
  const started = Date.now()
  t.equal((await refresh(alice.refreshToken)).statusCode, 401, 'the replay revokes the session')
  for (const client of [onB, onA]) {
    const closed = await closedWithin(client, started)
    t.equal(closed?.code, 4001)
    t.ok(closed !== null && closed.afterMs < 1000, `within a second (${closed?.afterMs ?? '-'} ms)`)
  }
  t.ok(await answers(otherOnB), 'another session of the user stays')
})

t.test('changing the password ends the user\'s other sessions: their sockets close on both instances, the current session\'s stay', async (t) => {
  const alice = await registerUser(a)
  const phone = await signIn(a, alice)
  const tablet = await signIn(a, alice)
  const phoneOnB = await socket(t, b, phone)
  const tabletOnA = await socket(t, a, tablet)
  const currentOnB = await socket(t, b, alice)
  const res = await a.inject({ method: 'POST', url: `${api}/auth/password`, headers: alice.auth, payload: { currentPassword: alice.password, newPassword: 'a brand new passphrase' } })
  // Counted from the answer: the change itself hashes the new password, which takes its time.
  const started = Date.now()
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { passwordChanged: true, sessionsEnded: 2 })
  for (const client of [phoneOnB, tabletOnA]) {
    const closed = await closedWithin(client, started)
    t.equal(closed?.code, 4001)
    t.ok(closed !== null && closed.afterMs < 1000, `within a second (${closed?.afterMs ?? '-'} ms)`)
  }
  t.ok(await answers(currentOnB), 'the session that changed the password keeps its socket')
  t.equal(await me(b, alice), 200)
  t.equal(await me(b, phone), 401)
  t.equal(await me(a, tablet), 401)
  const login = await a.inject({ method: 'POST', url: `${api}/auth/login`, remoteAddress: uniqueClientIp(), payload: { username: alice.user.username, password: 'a brand new passphrase' } })
  t.equal(login.statusCode, 200, 'the new password signs in')
})

t.test('changing the password needs the current one: a wrong one is 403 and ends nothing', async (t) => {
  const alice = await registerUser(a)
  const phone = await signIn(a, alice)
  const phoneOnB = await socket(t, b, phone)
  const res = await a.inject({ method: 'POST', url: `${api}/auth/password`, headers: alice.auth, payload: { currentPassword: 'not my password', newPassword: 'a brand new passphrase' } })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { success: false, code: 'FORBIDDEN' })
  t.ok(await answers(phoneOnB))
  t.equal(await me(a, phone), 200)
})

t.test('a new password too short is a 400 naming newPassword', async (t) => {
  const alice = await registerUser(a)
  const res = await a.inject({ method: 'POST', url: `${api}/auth/password`, headers: alice.auth, payload: { currentPassword: alice.password, newPassword: 'short' } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'newPassword' }] })
})

t.test('an ended session is refused on the other instance at once, though that instance had just cached it', async (t) => {
  const alice = await registerUser(a)
  t.equal(await me(b, alice), 200, 'B has seen the session active (cached for up to a second)')
  await a.inject({ method: 'POST', url: `${api}/auth/logout`, headers: alice.auth })
  // Real time on purpose: the notice crosses Redis pub/sub, well inside B's 1 s cache.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await me(b, alice), 401, 'B dropped it from its cache when told')
})

t.test('the notice between instances never reaches a client', async (t) => {
  const alice = await registerUser(a)
  const phone = await signIn(a, alice)
  const phoneOnB = await socket(t, b, phone)
  const phoneOnA = await socket(t, a, phone)
  const seen = [phoneOnB.frames.length, phoneOnA.frames.length]
  await a.inject({ method: 'POST', url: `${api}/auth/logout`, headers: alice.auth })
  // Real time on purpose: nothing may arrive over the network meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(phoneOnB.frames.slice(seen[0]), [], 'the user\'s other socket on B got nothing')
  t.same(phoneOnA.frames.slice(seen[1]), [], 'nor on A')
})
