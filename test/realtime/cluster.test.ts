import t from 'tap'
import { Cluster } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { createRedisStore, untilReady } from '../../src/lib/store/store.ts'
import { redisPresenceStore } from '../../src/modules/presence/store.ts'
import { HTTP_RATE_LIMITS } from '../../src/plugins/rate-limit.ts'
import { buildTestApp, testName } from '../helpers/app.ts'
import { ManualClock } from '../helpers/clock.ts'
import { startRedisCluster } from '../helpers/redis-cluster.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs, joined, type WsClient } from '../helpers/ws.ts'

// Scale-out on a Redis Cluster: a local cluster of three masters, and two instances of the app
// whose REDIS_URL names it. The bus runs on sharded pub/sub, presence scripts on one user's
// hash-tagged keys, rate limits and tickets on keys spread over the shards: every cross-instance
// behaviour works as on one Redis. Presence runs on a clock the tests move (grace to the ms).

const cluster = await startRedisCluster()
// Teardowns run last-registered first: the apps (registered below) close before the cluster stops.
t.teardown(cluster.stop)
const GRACE_MS = 30_000
const clock = new ManualClock()
const env = { REDIS_URL: cluster.url, PRESENCE_GRACE_MS: String(GRACE_MS), WS_PING_INTERVAL_MS: '150' }
const a = await buildTestApp(t, import.meta.url, { env, clock })
const b = await buildTestApp(t, import.meta.url, { env, clock })
const api = a.config.apiPrefix
const prefix = a.config.redisKeyPrefix

/** Closes the user's last connection and waits until an instance has set the offline check. */
async function closeLast (client: WsClient): Promise<void> {
  const mark = clock.mark()
  await client.close()
  await clock.scheduled(mark, (delayMs) => delayMs >= GRACE_MS)
}

async function presenceOf (app: FastifyInstance, viewer: TestUser, groupId: string, userId: number): Promise<Record<string, unknown> | undefined> {
  const res = await app.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/presence`, headers: viewer.auth })
  return (res.json().data.presence as Array<Record<string, unknown>>).find((p) => p.userId === userId)
}

t.test('the apps run on the cluster: their store is a cluster client, and it answers', async (t) => {
  for (const app of [a, b]) {
    const { backend } = app.store
    t.ok(backend.kind === 'redis' && backend.redis instanceof Cluster, 'a cluster client')
    t.equal(await app.store.check(), 'up')
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
  }
})

t.test('a message sent on one instance reaches subscribers on both, in seq order, over sharded pub/sub', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(b)
  const groupId = await createGroup(a, alice, [bob])
  const watchers = [await joined(b, bob, groupId), await joined(a, bob, groupId)]
  const sender = await joined(a, alice, groupId)
  t.teardown(async () => { await Promise.all([...watchers, sender].map(async (c) => await c.close())) })
  const ack = await sender.request('chat:send_message', { groupId, content: 'across the shards' })
  t.match(ack.payload, { seq: 1, deliveredToCount: 1 }, 'Bob counts as live: the subscriber set is on the cluster')
  for (let seq = 2; seq <= 6; seq += 1) {
    const res = await (seq % 2 === 0 ? b : a).inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages`, headers: seq % 2 === 0 ? bob.auth : alice.auth, payload: { content: `m${seq}` } })
    t.equal(res.statusCode, 201)
  }
  for (const [i, watcher] of watchers.entries()) {
    const seqs: number[] = []
    for (let n = 0; n < 6; n += 1) seqs.push((await watcher.next('chat:message')).payload.seq as number)
    t.same(seqs, [1, 2, 3, 4, 5, 6], `watcher ${i} saw every message once, in order`)
  }
})

t.test('presence spans the instances: online while a connection lives anywhere, offline after the grace', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const watcher = await joined(b, bob, groupId)
  t.teardown(async () => { await watcher.close() })
  const onA = await connectWs(a, { token: alice.token })
  await onA.next('chat:sync')
  const online = await watcher.next('chat:presence', (f) => f.payload.userId === alice.user.id && f.payload.status === 'online')
  t.match(online.payload, { groupId, status: 'online' })
  const onB = await connectWs(b, { token: alice.token })
  await onB.next('chat:sync')
  t.equal((await presenceOf(b, bob, groupId, alice.user.id))?.status, 'online')
  await onA.close()
  await clock.advance(GRACE_MS + 10)
  t.equal((await presenceOf(b, bob, groupId, alice.user.id))?.status, 'online', 'still connected on B')
  const closedAt = clock.now()
  await closeLast(onB)
  await clock.advance(GRACE_MS + 10)
  const offline = await watcher.next('chat:presence', (f) => f.payload.userId === alice.user.id && f.payload.status === 'offline', 10_000)
  t.equal(offline.payload.lastSeenAt, new Date(closedAt).toISOString())
  t.match(await presenceOf(a, bob, groupId, alice.user.id), { status: 'offline' })
})

t.test('a typing indicator started on one instance shows on the other', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const typer = await joined(a, alice, groupId)
  t.teardown(async () => { await closeLast(typer) })
  await typer.request('chat:typing_start', { groupId })
  const res = await b.inject({ method: 'GET', url: `${api}/groups/${groupId}/chat/typing`, headers: bob.auth })
  t.match(res.json().data, { typingUsers: [{ userId: alice.user.id, isTyping: true }] })
})

t.test('a rate limit is shared by the instances: the budget spent on both runs out once', async (t) => {
  const remoteAddress = '203.0.113.77'
  const statuses: number[] = []
  for (let i = 0; i < HTTP_RATE_LIMITS.other; i += 1) {
    statuses.push((await (i % 2 === 0 ? a : b).inject({ method: 'GET', url: '/no/such/route', remoteAddress })).statusCode)
  }
  t.same(statuses, Array(HTTP_RATE_LIMITS.other).fill(404))
  for (const app of [a, b]) {
    const res = await app.inject({ method: 'GET', url: '/no/such/route', remoteAddress })
    t.equal(res.statusCode, 429)
    t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: HTTP_RATE_LIMITS.other, remaining: 0 } })
  }
})

t.test('a member removed on one instance is evicted from the group on the other', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const bobOnB = await joined(b, bob, groupId)
  t.teardown(async () => { await bobOnB.close() })
  const res = await a.inject({ method: 'DELETE', url: `${api}/groups/${groupId}/members/${bob.user.id}`, headers: alice.auth })
  t.equal(res.statusCode, 200)
  t.same((await bobOnB.next('chat:group_left', undefined, 2000)).payload, { groupId, reason: 'removed' })
})

t.test('a session ended on one instance closes its socket on the other (bus notices); a ticket is taken once', async (t) => {
  const alice = await registerUser(a)
  const issued = await a.inject({ method: 'POST', url: `${api}/auth/ws-ticket`, headers: alice.auth })
  const ticket = issued.json().data.ticket as string
  const onB = await connectWs(b, { ticket })
  await onB.next('chat:sync')
  const again = await connectWs(a, { ticket, allowClose: true })
  t.equal((await again.closed).code, 4001, 'the ticket was taken on B')
  t.equal((await a.inject({ method: 'POST', url: `${api}/auth/logout`, headers: alice.auth })).statusCode, 200)
  t.equal((await onB.closed).code, 4001)
})

t.test('the store\'s operations work across the shards, and the keys really are spread over the masters', async (t) => {
  const store = createRedisStore({ url: cluster.url, keyPrefix: `${prefix}direct:`, clock, onError: () => {} })
  t.teardown(async () => { await store.close() })
  if (store.backend.kind === 'redis') await untilReady(store.backend.redis, 10_000)
  const groups = Array.from({ length: 24 }, (_, i) => `group-${i}`)
  for (const groupId of groups) await store.subscribers.add({ groupId, connectionId: 'c1' }, 60_000)
  await store.subscribers.refresh(groups.map((groupId) => ({ groupId, connectionId: 'c2' })), 60_000)
  t.same(await Promise.all(groups.map(async (groupId) => await store.subscribers.add({ groupId, connectionId: 'c3' }, 60_000))), groups.map(() => 3))
  const { backend } = store
  if (backend.kind !== 'redis') throw new Error('not redis')
  const presence = redisPresenceStore(backend.redis)
  const now = clock.now()
  const users = [910_001, 910_002, 910_003, 910_004, 910_005, 910_006]
  for (const userId of users) t.match(await presence.connect(userId, `c${userId}`, now, { connectionTtlMs: 1000, maxConnectionsPerUser: 2 }), { accepted: true })
  await presence.refresh(new Map(users.slice(0, 3).map((userId) => [userId, new Set([`c${userId}`])])), now + 900, 1000)
  t.same([...await presence.onlineAmong(users, now + 1500)].sort(), users.slice(0, 3))
  t.match(await presence.members(users.slice(2, 4), now + 1500), [{ live: true, visible: true }, { live: false, visible: true }])
  t.equal(await presence.disconnect(users[0] ?? 0, `c${users[0] ?? 0}`, now + 1000), 0)

  const masters = backend.redis instanceof Cluster ? backend.redis.nodes('master') : []
  t.equal(masters.length, 3)
  const counts = await Promise.all(masters.map(async (node) => (await node.keys(`${prefix}*`)).length))
  t.ok(counts.filter((count) => count > 0).length >= 2, `keys on several masters (${counts.join(', ')})`)
})

t.test('the test helper clears a file\'s keys on every master', async (t) => {
  const name = testName(import.meta.url)
  t.ok(prefix.includes(name))
  await cluster.clear(prefix)
  const redis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })))
  t.teardown(() => { redis.disconnect() })
  await new Promise((resolve) => redis.once('ready', resolve))
  const left = await Promise.all(redis.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length))
  t.same(left, [0, 0, 0])
})
