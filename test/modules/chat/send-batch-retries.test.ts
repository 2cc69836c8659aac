import t from 'tap'
import { createConnection, type Pool, type RowDataPacket } from 'mysql2/promise'
import { buildTestApp, testConfig } from '../../helpers/app.ts'
import { fromBin, toBin } from '../../../src/lib/ids.ts'
import { createStatementPool } from '../../../db/connection.ts'
import { SEND_LANES, createSendBatcher, type PendingMessage, type SendOutcome } from '../../../src/modules/chat/send-batcher.ts'
import type { ChatMessage } from '../../../schemas/chat.ts'
import { call, createChatGroup, sendMessage } from '../../helpers/api.ts'
import { pendingMessage } from '../../helpers/pending-message.ts'

// Issue 9 point 6: a retried clientMessageId (or any refused send) settles alone inside a group
// commit; the other senders' messages commit in the same transaction, and nothing rolls back.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })
const databaseUrl = (await testConfig(import.meta.url)).databaseUrl

interface Transactions { commits: number, rollbacks: number }

/** COMMIT and ROLLBACK statements run so far on every connection of a pool (each read on the connection itself). */
async function transactionsOn (pool: Pool, connections: number): Promise<Transactions> {
  const held = await Promise.all(Array.from({ length: connections }, async () => await pool.getConnection()))
  try {
    const counts = await Promise.all(held.map(async (c) => {
      const [rows] = await c.query<Array<RowDataPacket & { Variable_name: string, Value: string }>>(
        'SHOW SESSION STATUS WHERE Variable_name IN (\'Com_commit\', \'Com_rollback\')')
      const value = (name: string): number => Number(rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value ?? 0)
      return { commits: value('com_commit'), rollbacks: value('com_rollback') }
    }))
    return counts.reduce((sum, c) => ({ commits: sum.commits + c.commits, rollbacks: sum.rollbacks + c.rollbacks }), { commits: 0, rollbacks: 0 })
  } finally {
    for (const c of held) c.release()
  }
}

const since = (before: Transactions, after: Transactions): Transactions =>
  ({ commits: after.commits - before.commits, rollbacks: after.rollbacks - before.rollbacks })

/** A message of the sender's for the batcher, with its clientMessageId. */
const pending = (groupId: string, senderId: number, clientMessageId: string | null): PendingMessage =>
  pendingMessage(groupId, senderId, { clientMessageId })

async function seqsOf (groupId: string): Promise<{ seqs: number[], lastSeq: number }> {
  const rows = await app.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(groupId)).orderBy('seq').execute()
  const group = await app.db.selectFrom('mirror_groups').select('last_seq').where('id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  return { seqs: rows.map((r) => r.seq), lastSeq: group.last_seq }
}

t.test('one group commit that mixes retries, a refused send and fresh sends: one COMMIT, no ROLLBACK, each fresh message stored once, each retry answered with its original', async (t) => {
  const g = await createChatGroup(app, { memberCount: 1 })
  const member = g.members[0]!
  const earlierA = await sendMessage(app, g.owner, g.groupId, { content: 'a', clientMessageId: 'dup-a' })
  const earlierB = await sendMessage(app, g.admin, g.groupId, { content: 'b', clientMessageId: 'dup-b' })
  // A pool and batcher of this test's own: a single connection, whose statement counters are
  // this batch's alone.
  const pool = createStatementPool(databaseUrl, 1)
  t.teardown(async () => { await pool.end() })
  const batcher = createSendBatcher(pool)
  const before = await transactionsOn(pool, 1)

  const batch = [
    pending(g.groupId, g.owner.user.id, 'fresh-1'),
    pending(g.groupId, g.owner.user.id, 'dup-a'),
    pending(g.groupId, g.admin.user.id, null),
    pending(g.groupId, g.outsider.user.id, 'from outside'),
    pending(g.groupId, g.admin.user.id, 'dup-b'),
    pending(g.groupId, member.user.id, 'twice'),
    pending(g.groupId, member.user.id, 'twice'),
    pending(g.groupId, g.owner.user.id, 'dup-a  '),
    pending(g.groupId, g.admin.user.id, 'dup-a'),
    pending(g.groupId, member.user.id, 'fresh-2')
  ]
  // Queued in one turn of the event loop, so they share the lane's next transaction.
  const outcomes = await Promise.allSettled(batch.map(async (message) => await batcher.commit(message)))
  const after = await transactionsOn(pool, 1)

  const idOf = (i: number): string => fromBin(batch[i]!.row.id)
  const answered = outcomes.map((o) => o.status === 'rejected'
    ? { failed: String(o.reason) }
    : o.value.stored ? { seq: o.value.seq } : 'refused' in o.value ? { refused: o.value.refused.reason } : { original: fromBin(o.value.originalId) })
  t.same(answered, [
    { seq: 3 },
    { original: earlierA.id },
    { seq: 4 },
    { refused: 'not-member' },
    { original: earlierB.id },
    { seq: 5 },
    { original: idOf(5) },
    { original: earlierA.id },
    { seq: 6 },
    { seq: 7 }
  ], 'fresh sends take the next seqs in order; retries (stored before, earlier in the batch, or padded with spaces, which the unique key ignores) answer their original')
  t.same(since(before, after), { commits: 1, rollbacks: 0 }, 'one transaction, committed')

  t.same(await seqsOf(g.groupId), { seqs: [1, 2, 3, 4, 5, 6, 7], lastSeq: 7 }, 'no gap, and the counter matches the rows')
  const stored = await app.db.selectFrom('mirror_group_messages').select('id').where('group_id', '=', toBin(g.groupId)).orderBy('seq').execute()
  t.same(stored.map((r) => fromBin(r.id)), [earlierA.id, earlierB.id, idOf(0), idOf(2), idOf(5), idOf(8), idOf(9)], 'each fresh message stored once')
})

t.test('a batch in which every send is a retry or refused stores nothing and takes no seq', async (t) => {
  const g = await createChatGroup(app, { memberCount: 1 })
  const earlier = await sendMessage(app, g.owner, g.groupId, { content: 'a', clientMessageId: 'only-once' })
  const pool = createStatementPool(databaseUrl, 1)
  t.teardown(async () => { await pool.end() })
  const batcher = createSendBatcher(pool)
  const outcomes = await Promise.allSettled([
    batcher.commit(pending(g.groupId, g.owner.user.id, 'only-once')),
    batcher.commit(pending(g.groupId, g.outsider.user.id, null))
  ])
  t.match(outcomes, [{ status: 'fulfilled', value: { stored: false } }, { status: 'fulfilled', value: { stored: false, refused: { reason: 'not-member' } } }])
  t.equal(fromBin((outcomes[0] as PromiseFulfilledResult<SendOutcome & { originalId: Buffer }>).value.originalId), earlier.id)
  t.same(await seqsOf(g.groupId), { seqs: [1], lastSeq: 1 })
  t.equal((await sendMessage(app, g.members[0]!, g.groupId, 'next')).seq, 2)
})

t.test('retries sent over REST in the same group commit as fresh sends answer 201 with their originals, and nothing is rolled back', async (t) => {
  const g = await createChatGroup(app, { memberCount: 2 })
  const [m1, m2] = g.members as [typeof g.owner, typeof g.owner]
  const originals = await Promise.all([g.owner, g.admin, m1].map(async (who, i) => await sendMessage(app, who, g.groupId, { content: `original ${i}`, clientMessageId: `sent-before-${i}` })))
  const before = await transactionsOn(app.sendBatcher.pool, SEND_LANES)

  // Another group of the same lane is locked, so a send to it holds the lane while the sends
  // to this group queue up behind it; they then share the lane's next transaction.
  const lane = (groupId: string): number => (toBin(groupId)[15] ?? 0) % SEND_LANES
  let blockerGroup: string
  do {
    blockerGroup = (await call(app, g.owner, 'POST', '/groups', { name: 'blocker', type: 'group' })).json().data.group.id as string
  } while (lane(blockerGroup) !== lane(g.groupId))
  const locker = await createConnection({ uri: databaseUrl })
  t.teardown(async () => { await locker.end() })
  await locker.query('START TRANSACTION')
  await locker.query('SELECT id FROM mirror_groups WHERE id = ? FOR UPDATE', [toBin(blockerGroup)])
  const blocker = call(app, g.owner, 'POST', `/groups/${blockerGroup}/chat/messages`, { content: 'holds the lane' })
  // Real time on purpose: the blocker must reach the locked row before the others queue.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const sends = [
    { who: m2, body: { content: 'fresh 1', clientMessageId: 'fresh-1' } },
    { who: g.owner, body: { content: 'retry 0', clientMessageId: 'sent-before-0' } },
    { who: m1, body: { content: 'fresh 2' } },
    { who: g.admin, body: { content: 'retry 1', clientMessageId: 'sent-before-1' } },
    { who: m2, body: { content: 'fresh 3', clientMessageId: 'fresh-3' } },
    { who: m1, body: { content: 'retry 2', clientMessageId: 'sent-before-2' } },
    { who: g.admin, body: { content: 'fresh 4', clientMessageId: 'sent-before-0' } }
  ]
  const responses = Promise.all(sends.map(async ({ who, body }) => await call(app, who, 'POST', `/groups/${g.groupId}/chat/messages`, body)))
  // Long enough for every request to pass authentication and sealing on a loaded machine.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await locker.query('COMMIT')
  t.equal((await blocker).statusCode, 201)
  const answers = (await responses).map((r) => ({ status: r.statusCode, message: (r.json() as { data: { message: ChatMessage } }).data.message }))
  const after = await transactionsOn(app.sendBatcher.pool, SEND_LANES)

  t.same(answers.map((a) => a.status), sends.map(() => 201))
  t.same([1, 3, 5].map((i) => answers[i]!.message), originals, 'each retry answers its original message')
  const fresh = [0, 2, 4, 6].map((i) => answers[i]!.message)
  t.same(fresh.map((m) => m.content), ['fresh 1', 'fresh 2', 'fresh 3', 'fresh 4'])
  t.same(since(before, after), { commits: 2, rollbacks: 0 }, 'the blocker\'s transaction and one for all of these, nothing rolled back')
  t.same(await seqsOf(g.groupId), { seqs: [1, 2, 3, 4, 5, 6, 7], lastSeq: 7 }, 'the fresh messages stored once each, gap-free')
})

t.test('a failed group commit is retried message by message in queue order: every send that can be stored is, and seqs follow the order sends were queued (pipelined sends of one connection depend on it)', async (t) => {
  const g = await createChatGroup(app, { memberCount: 1 })
  const earlier = await sendMessage(app, g.owner, g.groupId, 'first')
  // Several connections, so retries could run side by side if the batcher let them.
  const pool = createStatementPool(databaseUrl, 8)
  t.teardown(async () => { await pool.end() })
  const batcher = createSendBatcher(pool)
  for (let round = 0; round < 5; round++) {
    const batch = Array.from({ length: 12 }, () => pending(g.groupId, g.owner.user.id, null))
    // A row whose primary key is taken fails the whole transaction, and then itself alone.
    batch[3]!.row.id = toBin(earlier.id)
    const outcomes = await Promise.allSettled(batch.map(async (message) => await batcher.commit(message)))
    t.equal(outcomes[3]!.status, 'rejected', 'the message that cannot be stored fails alone')
    const seqs = outcomes.flatMap((o) => o.status === 'fulfilled' && o.value.stored ? [o.value.seq] : [])
    t.equal(seqs.length, 11, 'the others are stored')
    t.same(seqs, [...seqs].sort((a, b) => a - b), `round ${round}: seqs in queue order`)
  }
  const { seqs, lastSeq } = await seqsOf(g.groupId)
  t.equal(seqs.length, lastSeq, 'no gap, and the counter matches the rows')
})
