import t from 'tap'
import { DeliveryTracker } from '../../src/realtime/delivery.ts'

// Issue 16.1: delivered watermarks are recorded per delivery without allocation and written as
// one statement per (group, seq), whatever the number of receivers.
t.test('a flush writes one watermark per group and seq, naming every user at it, with only the highest seq per user', async (t) => {
  const writes: Array<{ groupId: string, userIds: number[], seq: number }> = []
  const tracker = new DeliveryTracker(async (groupId, userIds, seq) => { writes.push({ groupId, userIds: [...userIds].sort((a, b) => a - b), seq }) }, (err) => { throw err })
  for (let seq = 1; seq <= 3; seq++) for (let user = 1; user <= 100; user++) tracker.record(user, 'g1', seq)
  tracker.record(7, 'g2', 5)
  tracker.record(8, 'g2', 4)
  tracker.record(8, 'g2', 2)
  await tracker.flush()
  t.same(writes.sort((a, b) => a.groupId.localeCompare(b.groupId) || a.seq - b.seq), [
    { groupId: 'g1', userIds: Array.from({ length: 100 }, (_, i) => i + 1), seq: 3 },
    { groupId: 'g2', userIds: [8], seq: 4 },
    { groupId: 'g2', userIds: [7], seq: 5 }
  ])
  await tracker.flush()
  t.equal(writes.length, 3, 'nothing left to write')
})
