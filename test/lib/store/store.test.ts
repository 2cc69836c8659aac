import t from 'tap'
import { createMemoryStore, createRedisStore, type Store } from '../../../src/lib/store/store.ts'
import { ManualClock } from '../../helpers/clock.ts'
import { testName } from '../../helpers/app.ts'

// The shared operations — fixed windows, single-use tickets, subscriber sets — answer alike in
// Redis and in the single-node store. Waits are real for Redis (its keys expire on its own
// clock) and moved on the clock for the in-process store.

const clock = new ManualClock()
const errors: Error[] = []
const stores: Array<[string, Store, (ms: number) => Promise<void>]> = [
  ['redis', createRedisStore({
    url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: `ptest:${testName(import.meta.url)}:${Date.now()}:`,
    clock,
    onError: (err) => { errors.push(err) }
  }), async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)); await clock.advance(ms) }],
  ['memory', createMemoryStore({ clock }), async (ms) => { await clock.advance(ms) }]
]
t.teardown(async () => { for (const [, store] of stores) await store.close() })
// Connected before the first timed step: a command waiting for the connection would count its wait.
for (const [, store] of stores) {
  const { backend } = store
  if (backend.kind === 'redis' && backend.redis.status !== 'ready') await new Promise((resolve) => backend.redis.once('ready', resolve))
}

for (const [name, store, wait] of stores) {
  t.test(`${name}: a fixed window counts hits, keeps its end, and starts over after it`, async (t) => {
    const key = `window:${name}`
    t.equal(await store.counters.peek(key), null)
    const first = await store.counters.hit(key, 300)
    t.equal(first.count, 1)
    t.ok(first.ttlMs > 0 && first.ttlMs <= 300)
    await wait(100)
    const second = await store.counters.hit(key, 300)
    t.equal(second.count, 2)
    t.ok(second.ttlMs <= 200, `the window keeps its end: ${second.ttlMs} ms left`)
    t.match(await store.counters.peek(key), { count: 2 })
    await wait(250)
    t.equal(await store.counters.peek(key), null, 'the window ended')
    t.equal((await store.counters.hit(key, 300)).count, 1)
    await store.counters.reset(key)
    t.equal(await store.counters.peek(key), null)
  })

  t.test(`${name}: a ticket is taken once, and not after it lapses`, async (t) => {
    await store.tickets.put(`ticket:${name}:a`, 'payload', 10_000)
    const taken = await Promise.all([store.tickets.take(`ticket:${name}:a`), store.tickets.take(`ticket:${name}:a`)])
    t.same(taken.sort(), ['payload', null].sort())
    await store.tickets.put(`ticket:${name}:b`, 'payload', 100)
    await wait(150)
    t.equal(await store.tickets.take(`ticket:${name}:b`), null)
  })

  t.test(`${name}: a group's subscriber count counts connections once, forgets removed and lapsed ones`, async (t) => {
    const groupId = `group-${name}`
    const ttlMs = 60_000
    t.equal(await store.subscribers.add({ groupId, connectionId: 'c1' }, ttlMs), 1)
    t.equal(await store.subscribers.add({ groupId, connectionId: 'c2' }, ttlMs), 2)
    t.equal(await store.subscribers.add({ groupId, connectionId: 'c2' }, ttlMs), 2)
    await store.subscribers.remove({ groupId, connectionId: 'c2' })
    t.equal(await store.subscribers.add({ groupId, connectionId: 'c3' }, ttlMs), 2)
    await clock.advance(48_000)
    await store.subscribers.refresh([{ groupId, connectionId: 'c3' }], ttlMs)
    await clock.advance(24_000)
    t.equal(await store.subscribers.add({ groupId, connectionId: 'c4' }, ttlMs), 2, 'c1 lapsed, c3 was refreshed')
  })
}

t.test('the Redis store reports itself up; the in-process one reports memory', async (t) => {
  t.same(await Promise.all(stores.map(async ([, store]) => await store.check())), ['up', 'memory'])
  t.same(errors, [])
})
