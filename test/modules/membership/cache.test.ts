import t from 'tap'
import { MEMBERSHIP_CACHE_MS, createMembershipCache } from '../../../src/modules/membership/cache.ts'

const member = { type: 'group', role: 'member' } as const

t.test('a membership is trusted for MEMBERSHIP_CACHE_MS after it was read, then read again', async (t) => {
  let now = 1_000_000
  const cache = createMembershipCache(MEMBERSHIP_CACHE_MS, () => now)
  cache.remember('g1', 7, member)
  t.same(cache.get('g1', 7), member)
  now += MEMBERSHIP_CACHE_MS - 1
  t.same(cache.get('g1', 7), member, 'still fresh just before the window ends')
  now += 1
  t.equal(cache.get('g1', 7), null, 'stale at the end of the window')
})

t.test('forgetting a group drops all of its members and only them', async (t) => {
  const cache = createMembershipCache()
  cache.remember('g1', 1, member)
  cache.remember('g1', 2, { type: 'group', role: 'admin' })
  cache.remember('g2', 1, member)
  cache.forgetGroup('g1')
  t.equal(cache.get('g1', 1), null)
  t.equal(cache.get('g1', 2), null)
  t.same(cache.get('g2', 1), member)
  cache.forgetGroup('unknown')
  t.same(cache.get('g2', 1), member)
})

t.test('the same member remembered again is refreshed, not counted twice', async (t) => {
  let now = 0
  const cache = createMembershipCache(100, () => now)
  cache.remember('g', 1, member)
  now = 90
  cache.remember('g', 1, { type: 'group', role: 'owner' })
  now = 150
  t.same(cache.get('g', 1), { type: 'group', role: 'owner' }, 'the newer entry, fresh from its own read')
})

t.test('a group\'s member ids are kept for the window and dropped with the group', async (t) => {
  let now = 0
  const cache = createMembershipCache(100, () => now)
  t.equal(cache.memberIds('g'), null)
  cache.rememberMemberIds('g', [1, 2])
  cache.rememberMemberIds('h', [3])
  t.same(cache.memberIds('g'), [1, 2])
  now = 99
  t.same(cache.memberIds('g'), [1, 2], 'fresh just before the window ends')
  now = 100
  t.equal(cache.memberIds('g'), null, 'stale at the end of the window')
  cache.rememberMemberIds('g', [1])
  cache.rememberMemberIds('h', [3])
  cache.forgetGroup('g')
  t.equal(cache.memberIds('g'), null, 'gone with the group')
  t.same(cache.memberIds('h'), [3], 'other groups keep theirs')
})
