import t from 'tap'
import WebSocket from 'ws'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { ManualClock } from '../helpers/clock.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs, type WsClient, wsUrl } from '../helpers/ws.ts'
import { until } from '../helpers/wait.ts'

// DESIGN §6: online while any connection lives on any instance, offline after the grace;
// typing expires after its TTL and the expiry is broadcast. Two instances share one clock the
// tests move, so the default grace (30 s) and typing TTL (5 s) are checked to the millisecond;
// pings stay on real time. One test runs the grace in real time on a third instance, `live`.
const GRACE_MS = 30_000
const TYPING_TTL_MS = 5000
const clock = new ManualClock()
const env = { PRESENCE_GRACE_MS: String(GRACE_MS), TYPING_TTL_MS: String(TYPING_TTL_MS), WS_PING_INTERVAL_MS: '150', RATE_LIMIT_SCALE: '100' }
const REAL_GRACE_MS = 400
const a = await buildTestApp(t, import.meta.url, { env, clock })
const b = await buildTestApp(t, import.meta.url, { env, clock })
const live = await buildTestApp(t, import.meta.url, { env: { ...env, PRESENCE_GRACE_MS: String(REAL_GRACE_MS) } })
const api = a.config.apiPrefix

const isGraceCheck = (delayMs: number): boolean => delayMs >= GRACE_MS
const isTypingExpiry = (delayMs: number): boolean => delayMs === TYPING_TTL_MS

/**
 * Closes the user's last connection and waits until an instance has set the user's offline
 * check: from then on, moving the clock moves the grace. Every last close in this file goes
 * through here, so no other close is still being recorded when a test reads the clock.
 */
async function closeLast (client: WsClient): Promise<void> {
  const mark = clock.mark()
  await client.close()
  await clock.scheduled(mark, isGraceCheck)
}

/** Closes a connection that is not the user's last, once the instance has let it go. */
async function closeOne (app: FastifyInstance, client: WsClient, userId: number): Promise<void> {
  const before = app.gateway.connections().filter((c) => c.userId === userId).length
  await client.close()
  await until(() => app.gateway.connections().filter((c) => c.userId === userId).length < before)
}

/** Bob watches a group he shares with Alice; Alice is not connected yet. */
async function watched (t: { teardown: (fn: () => unknown) => void }): Promise<{ alice: TestUser, bob: TestUser, groupId: string, watcher: WsClient }> {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const watcher = await connectWs(a, { token: bob.token })
  t.teardown(async () => { await closeLast(watcher) })
  await watcher.request('chat:join_group', { groupId })
  return { alice, bob, groupId, watcher }
}

const isAlice = (alice: TestUser, status: string) => (f: { payload: Record<string, unknown> }) =>
  f.payload.userId === alice.user.id && f.payload.status === status

async function presenceOf (app: FastifyInstance, viewer: TestUser, groupId: string, userId: number): Promise<Record<string, unknown> | undefined> {
  const res = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: viewer.auth })
  return (res.json().data.presence as Array<Record<string, unknown>>).find((p) => p.userId === userId)
}

t.test('a user\'s first connection tells their groups they are online; a second one does not', async (t) => {
  const { alice, groupId, watcher } = await watched(t)
  const first = await connectWs(a, { token: alice.token })
  const online = await watcher.next('chat:presence', isAlice(alice, 'online'))
  t.match(online.payload, { groupId, userId: alice.user.id, username: alice.user.username, status: 'online', lastSeenAt: String })
  const second = await connectWs(b, { token: alice.token })
  t.teardown(async () => {
    await closeOne(a, first, alice.user.id)
    await closeLast(second)
  })
  await second.next('chat:sync')
  t.ok(await watcher.quiet('chat:presence', 200, isAlice(alice, 'online')))
})

t.test('the last connection closing makes the user offline exactly when the grace ends, and persists last_seen_at', async (t) => {
  const { alice, bob, groupId, watcher } = await watched(t)
  const client = await connectWs(a, { token: alice.token })
  await watcher.next('chat:presence', isAlice(alice, 'online'))
  const closedAt = clock.now()
  await closeLast(client)
  await clock.advance(GRACE_MS - 1)
  t.ok(await watcher.quiet('chat:presence', 150, isAlice(alice, 'offline')), 'no offline notice a millisecond before the grace ends')
  t.equal((await presenceOf(a, bob, groupId, alice.user.id))?.status, 'online')
  await clock.advance(10)
  const offline = await watcher.next('chat:presence', isAlice(alice, 'offline'), 10_000)
  t.match(offline.payload, { groupId, status: 'offline', lastSeenAt: new Date(closedAt).toISOString() })
  const row = await a.db.selectFrom('users').select('last_seen_at').where('id', '=', alice.user.id).executeTakeFirstOrThrow()
  t.equal(row.last_seen_at?.getTime(), closedAt, 'last seen when the connection closed, not when the grace ran out')
  t.match(await presenceOf(b, bob, groupId, alice.user.id), { status: 'offline', lastSeenAt: offline.payload.lastSeenAt })
})

t.test('reconnecting within the grace keeps the user online without an offline notice', async (t) => {
  const { alice, watcher } = await watched(t)
  const first = await connectWs(a, { token: alice.token })
  await watcher.next('chat:presence', isAlice(alice, 'online'))
  await closeLast(first)
  await clock.advance(GRACE_MS - 1000)
  const again = await connectWs(b, { token: alice.token })
  t.teardown(async () => { await closeLast(again) })
  await again.next('chat:sync')
  await clock.advance(GRACE_MS + 10)
  t.ok(await watcher.quiet('chat:presence', 200, (f) => f.payload.userId === alice.user.id), 'neither offline nor a second online')
})

t.test('a user connected on another instance stays online when one connection closes', async (t) => {
  const { alice, bob, groupId, watcher } = await watched(t)
  const onA = await connectWs(a, { token: alice.token })
  const onB = await connectWs(b, { token: alice.token })
  t.teardown(async () => { await closeLast(onB) })
  await onB.next('chat:sync')
  await watcher.next('chat:presence', isAlice(alice, 'online'))
  await closeOne(a, onA, alice.user.id)
  await clock.advance(GRACE_MS + 10)
  t.ok(await watcher.quiet('chat:presence', 200, isAlice(alice, 'offline')))
  t.equal((await presenceOf(a, bob, groupId, alice.user.id))?.status, 'online')
})

t.test('a connection that stops answering pings is terminated and counts as gone', async (t) => {
  const { alice, watcher } = await watched(t)
  const url = new URL(await wsUrl(a))
  url.searchParams.set('token', alice.token)
  const mark = clock.mark()
  // A client that never answers ping frames, like a phone that lost its network.
  const silent = new WebSocket(url, { autoPong: false })
  const closed = new Promise<number>((resolve) => { silent.on('close', (code) => { resolve(code) }) })
  await watcher.next('chat:presence', isAlice(alice, 'online'))
  t.equal(await closed, 1006, 'terminated without a close frame')
  await clock.scheduled(mark, isGraceCheck)
  await clock.advance(GRACE_MS + 10)
  await watcher.next('chat:presence', isAlice(alice, 'offline'), 10_000)
  t.same(a.gateway.connections().filter((c) => c.userId === alice.user.id), [])
})

t.test('a client that answers pings stays connected', async (t) => {
  const alice = await registerUser(a)
  const client = await connectWs(a, { token: alice.token })
  t.teardown(async () => { await closeLast(client) })
  // Real time on purpose: pings run on it (they measure the network); four intervals pass.
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(client.ws.readyState, client.ws.OPEN)
})

t.test('a status update reaches the groups and shows in GET presence on every instance', async (t) => {
  const { alice, bob, groupId, watcher } = await watched(t)
  const client = await connectWs(a, { token: alice.token })
  t.teardown(async () => { await closeLast(client) })
  await client.request('chat:presence_update', { groupId, status: 'busy', deviceType: 'mobile_ios' })
  await watcher.next('chat:presence', isAlice(alice, 'busy'))
  t.match(await presenceOf(b, bob, groupId, alice.user.id), { userId: alice.user.id, username: alice.user.username, groupId, status: 'busy', deviceType: 'mobile_ios', lastSeenAt: String })
})

t.test('a typing indicator expires exactly after its TTL and the expiry is broadcast even when the typer vanished', async (t) => {
  const { alice, groupId, watcher } = await watched(t)
  const typer = await connectWs(a, { token: alice.token })
  const mark = clock.mark()
  await typer.request('chat:typing_start', { groupId })
  t.match((await watcher.next('chat:typing')).payload, { userId: alice.user.id, isTyping: true })
  await clock.scheduled(mark, isTypingExpiry)
  typer.ws.terminate()
  await clock.scheduled(mark, isGraceCheck)
  await clock.advance(TYPING_TTL_MS - 1)
  t.ok(await watcher.quiet('chat:typing', 150), 'still typing a millisecond before the TTL ends')
  await clock.advance(1)
  const stopped = await watcher.next('chat:typing', undefined, 10_000)
  t.match(stopped.payload, { groupId, userId: alice.user.id, username: alice.user.username, isTyping: false })
})

t.test('typing refreshed on another instance is not expired by the first instance\'s timer', async (t) => {
  const { alice, bob, groupId, watcher } = await watched(t)
  const onA = await connectWs(a, { token: alice.token })
  const onB = await connectWs(b, { token: alice.token })
  t.teardown(async () => {
    await closeOne(a, onA, alice.user.id)
    await closeLast(onB)
  })
  await onA.request('chat:typing_start', { groupId })
  await clock.advance(TYPING_TTL_MS / 2)
  await onB.request('chat:typing_start', { groupId })
  // GET typing answers the same on both instances.
  for (const app of [a, b]) {
    const res = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
    t.match(res.json().data, { typingUsers: [{ userId: alice.user.id, username: alice.user.username, groupId, isTyping: true, startedAt: String }] })
  }
  await clock.advance(TYPING_TTL_MS / 2)
  t.ok(await watcher.quiet('chat:typing', 150, (f) => f.payload.isTyping === false), 'A\'s timer fired, but the entry B refreshed lives on')
  await clock.advance(TYPING_TTL_MS / 2)
  await watcher.next('chat:typing', (f) => f.payload.isTyping === false, 10_000)
  t.ok(await watcher.quiet('chat:typing', 150, (f) => f.payload.isTyping === false), 'one expiry notice')
  const res = await b.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.same(res.json().data, { typingUsers: [] })
})

t.test('in real time, the last connection closing makes the user offline after the grace, not before', async (t) => {
  const alice = await registerUser(live)
  const bob = await registerUser(live)
  const groupId = await createGroup(live, alice, [bob])
  const watcher = await connectWs(live, { token: bob.token })
  t.teardown(async () => { await watcher.close() })
  await watcher.request('chat:join_group', { groupId })
  const client = await connectWs(live, { token: alice.token })
  await watcher.next('chat:presence', isAlice(alice, 'online'))
  await client.close()
  const closedAt = Date.now()
  t.ok(await watcher.quiet('chat:presence', REAL_GRACE_MS / 2, isAlice(alice, 'offline')), 'still online during the grace')
  await watcher.next('chat:presence', isAlice(alice, 'offline'), 10_000)
  t.ok(Date.now() - closedAt >= REAL_GRACE_MS - 20, 'not before the grace')
})
