/*
 * @parley/client and the close codes of the contract (seed 01 §5.2, DESIGN §5), sent by a real
 * Parley's own sockets: 1013 and 4429 are retried (4429 no sooner than the rate-limit delay),
 * 4001 refreshes the token once, and ends the session when that does not cure it.
 */
import t from 'tap'
import { clientOf, collect, contents, numbered, pair, recordingWebSocket, serverSockets, signUp, startServer, until } from './harness.ts'

const server = await startServer(t, import.meta.url)

t.test('a 1013 close mid-burst reconnects and loses nothing', async (t) => {
  const { alice, bob, groupId } = await pair(t, server)
  const atBob = collect(bob)
  const texts = numbered('slow', 60)
  const sends = texts.map(async (content) => await alice.send(groupId, { content }))
  await until(() => atBob.messages.length >= 20)
  const closes: number[] = []
  bob.on('disconnected', ({ code }) => { closes.push(code) })
  for (const socket of serverSockets(server)) socket.close(1013, 'Send buffer full')
  await Promise.all(sends)
  await atBob.waitFor(60)
  t.ok(closes.includes(1013), 'bob saw the 1013')
  t.same(contents(atBob.messages), texts)
})

t.test('a 4429 close is retried, no sooner than the rate-limit delay', async (t) => {
  const recording = recordingWebSocket()
  const client = clientOf(t, server, { WebSocket: recording.WebSocket, reconnect: { initialMs: 10, maxMs: 50, rateLimitedMs: 600 } })
  await signUp(client)
  await client.connect()
  const closedAt = Date.now()
  const reconnected = new Promise((resolve) => { client.once('connected', resolve) })
  for (const socket of serverSockets(server)) socket.close(4429, 'Too many connections')
  await reconnected
  t.equal(recording.urls.length, 2, 'one new socket')
  t.ok(Date.now() - closedAt >= 600, `waited ${Date.now() - closedAt} ms`)
})

t.test('a 4001 close refreshes the token once and reconnects with it', async (t) => {
  const { alice, bob, groupId } = await pair(t, server)
  const atBob = collect(bob)
  const before = bob.tokens?.refreshToken
  const refreshed: string[] = []
  bob.on('tokens', ({ token }) => { refreshed.push(token) })
  const reconnected = new Promise((resolve) => { bob.once('connected', resolve) })
  for (const socket of serverSockets(server)) socket.close(4001, 'Token expired')
  await reconnected
  t.equal(refreshed.length, 1, 'one refresh')
  t.not(bob.tokens?.refreshToken, before, 'the session was renewed (refresh tokens rotate)')
  await alice.send(groupId, { content: 'still here' })
  t.match(await atBob.waitFor(1), [{ content: 'still here' }])
})

t.test('a 4001 that a refresh cannot cure ends with authFailed, and no more reconnects', async (t) => {
  const recording = recordingWebSocket()
  const client = clientOf(t, server, { WebSocket: recording.WebSocket })
  await signUp(client)
  await client.connect()
  const failures: unknown[] = []
  client.on('authFailed', (error) => { failures.push(error) })
  // The session ends on the server (sign-out elsewhere): its refresh token is refused from now on.
  await client.rest.auth.logout()
  for (const socket of serverSockets(server)) socket.close(4001, 'Session revoked')
  t.ok(await until(() => failures.length > 0), 'authFailed')
  t.match(failures[0], { name: 'ParleyError', code: 'UNAUTHORIZED' })
  t.notOk(await until(() => failures.length > 1, 300), 'told once')
  t.equal(client.state, 'stopped')
  t.notOk(await until(() => recording.urls.length > 1, 500), 'no new socket')
  t.equal(client.tokens, null, 'the session is gone')
})

t.test('a session that ended while disconnected is told once, and connect() rejects', async (t) => {
  const client = clientOf(t, server)
  await signUp(client)
  const failures: unknown[] = []
  client.on('authFailed', (error) => { failures.push(error) })
  await client.rest.auth.logout()
  await t.rejects(client.connect(), { name: 'ParleyError', code: 'UNAUTHORIZED' })
  t.equal(failures.length, 1, 'authFailed once')
  t.equal(client.state, 'stopped')
})
