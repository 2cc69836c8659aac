import t from 'tap'
import { ttlCache } from '../../src/lib/ttl-cache.ts'

t.test('an entry is fresh until its age reaches the window, on a clock that starts at 0', async (t) => {
  let now = 0
  const cache = ttlCache<string, number>({ max: 10, ttlMs: 1000, now: () => now })
  cache.set('a', 1)
  now = 999
  t.equal(cache.get('a'), 1, 'fresh just before the window ends')
  t.ok(cache.has('a'))
  now = 1000
  t.equal(cache.get('a'), undefined, 'stale once the window has passed')
  t.notOk(cache.has('a'))
})

t.test('setting again starts the window again', async (t) => {
  let now = 5000
  const cache = ttlCache<string, string>({ max: 10, ttlMs: 100, now: () => now })
  cache.set('k', 'old')
  now = 5090
  cache.set('k', 'new')
  now = 5150
  t.equal(cache.get('k'), 'new')
})

t.test('bounded by count: the least recently used goes first', async (t) => {
  const cache = ttlCache<number, string>({ max: 2, ttlMs: 60_000 })
  cache.set(1, 'one')
  cache.set(2, 'two')
  cache.get(1)
  cache.set(3, 'three')
  t.same([cache.get(1), cache.get(2), cache.get(3)], ['one', undefined, 'three'])
})

t.test('bounded by size: large entries push others out', async (t) => {
  const cache = ttlCache<string, number[]>({ max: 100, maxSize: 5, sizeOf: (ids) => ids.length, ttlMs: 60_000 })
  cache.set('a', [1, 2])
  cache.set('b', [3, 4])
  cache.set('c', [5, 6, 7])
  t.equal(cache.get('a'), undefined, 'the oldest went to make room')
  t.same(cache.get('c'), [5, 6, 7])
  cache.set('empty', [])
  t.same(cache.get('empty'), [], 'an empty entry is kept')
})
