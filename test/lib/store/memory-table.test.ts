import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MEMORY_STORE_SWEEP_MS, MemoryTable } from '../../../src/lib/store/memory-table.ts'
import { loginKeys, presenceConnectionsKey, presenceUserKey, rateLimitKey, wsTicketKey } from '../../../src/lib/store/keys.ts'
import { ManualClock } from '../../helpers/clock.ts'

// The in-process store (REDIS_URL=memory) drops what expired without waiting for reads, and
// never holds more than its bound.

function table (t: { teardown: (fn: () => unknown) => void }, maxEntries = 1_000_000): { clock: ManualClock, table: MemoryTable, warnings: Array<{ maxEntries: number, evicted: number }> } {
  const clock = new ManualClock()
  const warnings: Array<{ maxEntries: number, evicted: number }> = []
  const created = new MemoryTable({ clock, maxEntries, onFull: (details) => { warnings.push(details) } })
  t.teardown(() => { created.close() })
  return { clock, table: created, warnings }
}

t.test('200,000 expired entries are dropped by the sweep without ever being read', async (t) => {
  const { clock, table: store } = table(t)
  const now = clock.now()
  for (let i = 0; i < 200_000; i++) store.set(rateLimitKey('other', `ip10.0.${i}`), 1, now + 60_000)
  store.set(presenceUserKey(1), { status: 'online' }, now + 7 * 24 * 3600 * 1000)
  t.equal(store.size, 200_001)
  await clock.advance(59_000)
  t.equal(store.size, 200_001, 'nothing dropped before its expiry')
  await clock.advance(1000 + MEMORY_STORE_SWEEP_MS)
  t.equal(store.size, 1, 'every expired entry is gone; the live one stays')
  t.equal(store.stats.expired, 200_000)
  t.same(store.get(presenceUserKey(1)), { status: 'online' })
})

t.test('an entry outlives its expiry by at most one sweep interval', async (t) => {
  const { clock, table: store } = table(t)
  store.set(wsTicketKey('abc'), 'payload', clock.now() + 1500)
  await clock.advance(1499)
  t.equal(store.size, 1)
  t.equal(store.get(wsTicketKey('abc')), 'payload')
  await clock.advance(1 + MEMORY_STORE_SWEEP_MS)
  t.equal(store.size, 0)
})

t.test('an expired entry reads as absent even before the sweep reaches it', async (t) => {
  const { clock, table: store } = table(t)
  store.set(loginKeys.address('10.0.0.1'), 3, clock.now() + 100)
  await clock.advance(100)
  t.equal(store.get(loginKeys.address('10.0.0.1')), undefined)
  t.equal(store.expiryOf(loginKeys.address('10.0.0.1')), null)
})

t.test('a rewritten expiry counts: a refreshed entry is not swept at its old expiry', async (t) => {
  const { clock, table: store } = table(t)
  store.set(presenceConnectionsKey(1), 'connections', clock.now() + 1000)
  await clock.advance(900)
  store.set(presenceConnectionsKey(1), 'connections', clock.now() + 1000)
  await clock.advance(800)
  t.equal(store.size, 1, 'still there past its first expiry')
  await clock.advance(100 + MEMORY_STORE_SWEEP_MS)
  t.equal(store.size, 0)
})

t.test('a sweep held up for days (a suspended machine) drops everything that came due meanwhile', async (t) => {
  // Timers that never fire, as in a process that was not running: the sweep is called by hand.
  let time = Date.now()
  const heldUp = { now: () => time, setTimeout: () => ({ cancel () {} }), setInterval: () => ({ cancel () {} }) }
  const store = new MemoryTable({ clock: heldUp })
  t.teardown(() => { store.close() })
  for (let i = 0; i < 1000; i++) store.set(`k${i}`, i, time + 1000 + i * 60_000)
  store.set('later', 1, time + 30 * 24 * 3600 * 1000)
  time += 7 * 24 * 3600 * 1000
  t.equal(store.sweep(), 1000)
  t.equal(store.size, 1)
})

t.test('the table never holds more than its bound: a new key evicts the entry written longest ago', async (t) => {
  const { clock, table: store, warnings } = table(t, 3)
  const later = clock.now() + 60_000
  store.set('a', 1, later)
  store.set('b', 2, later)
  store.set('c', 3, later)
  store.set('a', 10, later) // written again: now the freshest
  store.set('d', 4, later)
  t.equal(store.size, 3)
  t.equal(store.get('b'), undefined, 'the entry written longest ago went')
  t.same(['a', 'c', 'd'].map((key) => store.get(key)), [10, 3, 4])
  t.equal(store.stats.evicted, 1)
  t.same(warnings, [{ maxEntries: 3, evicted: 1 }], 'a full table is reported')
  for (let i = 0; i < 1000; i++) store.set(`flood${i}`, i, later)
  t.equal(store.size, 3, 'a flood of new keys cannot grow it')
  t.equal(warnings.length, 1, 'reported at most once a minute')
})

t.test('a full table drops expired entries before evicting live ones', async (t) => {
  const { clock, table: store } = table(t, 2)
  store.set('short', 1, clock.now() + 100)
  store.set('long', 2, clock.now() + 60_000)
  await clock.advance(200)
  store.set('new', 3, clock.now() + 60_000)
  t.equal(store.stats.evicted, 0)
  t.same([store.get('long'), store.get('new')], [2, 3])
})

t.test('a forgotten in-process store does not keep the process alive: its sweep timer is unref\'d', async (t) => {
  const module = fileURLToPath(new URL('../../../src/lib/store/store.ts', import.meta.url))
  const script = `import { createMemoryStore } from ${JSON.stringify(module)}
import { systemClock } from ${JSON.stringify(fileURLToPath(new URL('../../../src/lib/clock.ts', import.meta.url)))}
createMemoryStore({ clock: systemClock }).counters.hit('a window', 60000)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' })
  const code = await new Promise<number | null>((resolve) => {
    const kill = setTimeout(() => { child.kill() }, 10_000)
    child.on('exit', (exitCode) => { clearTimeout(kill); resolve(exitCode) })
  })
  t.equal(code, 0, 'exited on its own')
})
