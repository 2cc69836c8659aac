import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, uniqueClientIp } from '../helpers/users.ts'
import { type Closed, connectWs, type WsClient } from '../helpers/ws.ts'

// A socket lives no longer than its access token (DESIGN §6) unless the client re-authenticates
// in place with a fresh `{type: "auth", token}` frame. Access tokens live 3 s here; two instances
// share the database and Redis: tokens come from A, sockets live on B.

const env = { RATE_LIMIT_SCALE: '100', ACCESS_TOKEN_TTL_SECONDS: '3' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

/** A token's exp, in ms. */
const expOf = (app: FastifyInstance, token: string): number => (app.jwt.decode<{ exp: number }>(token)?.exp ?? 0) * 1000

async function refreshed (refreshToken: string): Promise<{ token: string, refreshToken: string }> {
  const res = await a.inject({ method: 'POST', url: `${api}/auth/refresh`, remoteAddress: uniqueClientIp(), payload: { refreshToken } })
  if (res.statusCode !== 200) throw new Error(`refresh failed: ${res.statusCode} ${res.body}`)
  return res.json().data as { token: string, refreshToken: string }
}

async function opened (t: { teardown: (fn: () => unknown) => void }, options: { token?: string, ticket?: string }): Promise<WsClient> {
  const client = await connectWs(b, options)
  t.teardown(async () => { await client.close() })
  return client
}

/** The close, with the time it happened. */
const closing = async (client: WsClient): Promise<Closed & { at: number }> => await client.closed.then((c) => ({ ...c, at: Date.now() }))

// Real time on purpose: fast-jwt checks `exp` against Date.now() (its clockTimestamp option is one
// fixed number per verifier, and a verifier per call would lose the verified-token cache), so a
// token's expiry, and the socket's with it, cannot follow the app's clock.
const sleepUntil = async (at: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now()))) }

t.test('a socket closes with 4001 when its access token expires', async (t) => {
  const alice = await registerUser(a)
  const client = await opened(t, { token: alice.token })
  await client.next('chat:sync')
  const closed = await closing(client)
  t.equal(closed.code, 4001)
  t.equal(closed.reason, 'Access token expired')
  const exp = expOf(a, alice.token)
  t.ok(closed.at >= exp - 50 && closed.at < exp + 1000, `closed at the token's exp (${closed.at - exp} ms after)`)
})

t.test('a fresh token in an auth frame before the expiry keeps the socket open, is acknowledged, and moves the expiry to its exp', async (t) => {
  const alice = await registerUser(a)
  const client = await opened(t, { token: alice.token })
  await client.next('chat:sync')
  const firstExp = expOf(a, alice.token)
  await sleepUntil(firstExp - 1500)
  const next = await refreshed(alice.refreshToken)
  const nextExp = expOf(a, next.token)
  t.ok(nextExp > firstExp, 'the new token expires later')
  client.send({ type: 'auth', token: next.token, requestId: 'reauth-1' })
  const reauth = await client.next(['chat:ack', 'chat:error'], (f) => f.requestId === 'reauth-1')
  t.same(reauth.payload, { success: true, userId: alice.user.id, expiresAt: new Date(nextExp).toISOString() })

  await sleepUntil(firstExp + 300)
  t.equal(client.ws.readyState, client.ws.OPEN, 'still open past the first token\'s exp')
  t.equal((await client.request('ping', {})).type, 'chat:ack')
  const closed = await closing(client)
  t.equal(closed.code, 4001)
  t.ok(closed.at >= nextExp - 50 && closed.at < nextExp + 1000, `closed at the new token's exp (${closed.at - nextExp} ms after)`)
})

t.test('an auth frame with another user\'s token is refused and the socket still closes at its own expiry', async (t) => {
  const alice = await registerUser(a)
  const client = await opened(t, { token: alice.token })
  await client.next('chat:sync')
  const mallory = await registerUser(a)
  client.send({ type: 'auth', token: mallory.token, requestId: 'other-user' })
  const refused = await client.next(['chat:ack', 'chat:error'], (f) => f.requestId === 'other-user')
  t.match(refused, { type: 'chat:error', payload: { code: 'FORBIDDEN' } })
  const closed = await closing(client)
  t.equal(closed.code, 4001)
  t.ok(closed.at < expOf(a, alice.token) + 1000, 'at Alice\'s token\'s exp, not Mallory\'s')
})

t.test('a socket authenticated by its first auth frame closes when that token expires', async (t) => {
  const alice = await registerUser(a)
  const client = await opened(t, {})
  client.send({ type: 'auth', token: alice.token, requestId: 'first' })
  t.match(await client.next('chat:ack', (f) => f.requestId === 'first'), { payload: { success: true } })
  const closed = await closing(client)
  t.equal(closed.code, 4001)
  t.ok(closed.at < expOf(a, alice.token) + 1000)
})

t.test('a socket opened with a ws-ticket closes when the token the ticket was bought with expires', async (t) => {
  const alice = await registerUser(a)
  const ticket = (await a.inject({ method: 'POST', url: `${api}/auth/ws-ticket`, headers: alice.auth })).json().data.ticket as string
  const client = await opened(t, { ticket })
  await client.next('chat:sync')
  const closed = await closing(client)
  t.equal(closed.code, 4001)
  const exp = expOf(a, alice.token)
  t.ok(closed.at >= exp - 50 && closed.at < exp + 1000, `closed at the token's exp (${closed.at - exp} ms after)`)
})
