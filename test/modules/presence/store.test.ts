import t from 'tap'
import { Redis } from 'ioredis'
import { MEMORY_STORE_SWEEP_MS, MemoryTable } from '../../../src/lib/store/memory-table.ts'
import { memoryPresenceStore } from '../../../src/modules/presence/memory-store.ts'
import { redisPresenceStore, type PresenceStore } from '../../../src/modules/presence/store.ts'
import { ManualClock } from '../../helpers/clock.ts'
import { testName } from '../../helpers/app.ts'

// The presence store's two implementations answer alike: the Redis scripts and the in-process
// single-node store are run through the same steps. Times are passed in, as the service does.

const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: `ptest:${testName(import.meta.url)}:` })
t.teardown(() => { redis.disconnect() })
const clock = new ManualClock()
const table = new MemoryTable({ clock })
t.teardown(() => { table.close() })

const implementations: Array<[string, PresenceStore]> = [['redis', redisPresenceStore(redis)], ['memory', memoryPresenceStore(table)]]
const policy = { connectionTtlMs: 1000, maxConnectionsPerUser: 2 }
let users = Math.floor(Math.random() * 1e6) * 100
const newUser = (): number => { users += 1; return users }

for (const [name, store] of implementations) {
  t.test(`${name}: a user past the connection limit is refused, a connection already counted is not`, async (t) => {
    const now = clock.now()
    const user = newUser()
    t.same(await store.connect(user, 'c1', now, policy), { accepted: true, openConnections: 0, wasVisible: false })
    t.same(await store.connect(user, 'c2', now, policy), { accepted: true, openConnections: 1, wasVisible: true })
    t.same(await store.connect(user, 'c3', now, policy), { accepted: false, openConnections: 2, wasVisible: false })
    t.match(await store.connect(user, 'c2', now, policy), { accepted: true, openConnections: 2 })
    t.equal(await store.disconnect(user, 'c1', now), 1)
    t.match(await store.connect(user, 'c3', now, policy), { accepted: true, openConnections: 1 })
  })

  t.test(`${name}: connections without a heartbeat lapse; a refreshed one lives on`, async (t) => {
    const now = clock.now()
    const [quiet, refreshed] = [newUser(), newUser()]
    await store.connect(quiet, 'q', now, policy)
    await store.connect(refreshed, 'r', now, policy)
    await store.refresh(new Map([[refreshed, new Set(['r'])]]), now + 900, policy.connectionTtlMs)
    t.same([...await store.onlineAmong([quiet, refreshed], now + 999)].sort(), [quiet, refreshed].sort())
    t.same([...await store.onlineAmong([quiet, refreshed], now + 1500)], [refreshed])
    t.match(await store.members([quiet, refreshed], now + 1500), [{ live: false, visible: true }, { live: true, visible: true }])
  })

  t.test(`${name}: offline only after the grace since the last connection closed, announced unless shown offline`, async (t) => {
    const now = clock.now()
    const [user, hidden] = [newUser(), newUser()]
    await store.connect(user, 'c', now, policy)
    t.equal(await store.goOffline(user, now + 10, 100), null, 'still connected')
    t.equal(await store.disconnect(user, 'c', now + 10), 0)
    t.equal(await store.goOffline(user, now + 109, 100), null, 'within the grace')
    t.same(await store.goOffline(user, now + 110, 100), { seen: now + 10, announce: true })
    t.equal(await store.goOffline(user, now + 200, 100), null, 'once')
    t.match(await store.members([user], now + 200), [{ live: false, visible: false, status: 'online', seen: now + 10 }])
    await store.setStatus(hidden, 'offline', 'desktop', now)
    t.match(await store.members([hidden], now), [{ live: false, visible: true, status: 'offline', device: 'desktop', seen: now }])
    t.same(await store.goOffline(hidden, now + 100, 100), { seen: now, announce: false })
  })

  t.test(`${name}: a typing indicator ends at its expiry, not before, and a stop ends it at once`, async (t) => {
    const now = clock.now()
    const groupId = `g${newUser()}`
    const [alice, bob] = [newUser(), newUser()]
    await store.startTyping(groupId, { userId: alice, username: 'alice:1', startedAt: now, expiresAt: now + 100 }, 5000)
    await store.startTyping(groupId, { userId: bob, username: 'bob', startedAt: now, expiresAt: now + 100 }, 5000)
    t.same((await store.typers(groupId)).sort((a, b) => a.userId - b.userId), [
      { userId: alice, username: 'alice:1', startedAt: now, expiresAt: now + 100 },
      { userId: bob, username: 'bob', startedAt: now, expiresAt: now + 100 }
    ])
    t.equal(await store.expireTyping(groupId, alice, now + 99), false)
    t.equal(await store.expireTyping(groupId, alice, now + 100), true)
    t.equal(await store.expireTyping(groupId, alice, now + 100), false, 'ended once')
    t.equal(await store.stopTyping(groupId, bob), true)
    t.equal(await store.stopTyping(groupId, bob), false)
    t.same(await store.typers(groupId), [])
  })
}

t.test('memory: a user\'s connections and a group\'s typers leave memory when they lapse, unread', async (t) => {
  const own = new MemoryTable({ clock })
  t.teardown(() => { own.close() })
  const store = memoryPresenceStore(own)
  const now = clock.now()
  for (let i = 0; i < 100; i++) await store.connect(newUser(), 'c', now, policy)
  await store.startTyping('g-swept', { userId: 1, username: 'a', startedAt: now, expiresAt: now + 100 }, 2000)
  t.equal(own.size, 201, 'connections and shown status per user, typers per group')
  await clock.advance(2000 + MEMORY_STORE_SWEEP_MS)
  t.equal(own.size, 100, 'only the users\' shown status (kept a week) is left')
})
