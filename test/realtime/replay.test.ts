import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs, type Frame, type WsClient } from '../helpers/ws.ts'

// DESIGN §5: chat:join_group {sinceSeq} replays what was missed before live events, with no
// gap and no duplicate, even while new messages are being sent.

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })

let sent = 0

/** Sends through the service directly: test setup for many messages, each text new (spam rules). */
async function sendMany (app: FastifyInstance, sender: TestUser, groupId: string, count: number, concurrency = 10): Promise<void> {
  const membership = await app.groupService.getMembership(groupId, sender.user.id)
  if (membership === null) throw new Error('not a member')
  const caller = { user: { ...sender.user, sessionId: 'test', external: false }, membership }
  for (let i = 0; i < count; i += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, count - i) }, async () => {
      await app.chatService.sendMessage(caller, { content: `bulk ${sent++}` })
    }))
  }
}

/** Collects chat:message seqs until `last` arrives. */
async function seqsUntil (client: WsClient, last: number, timeoutMs = 10_000): Promise<number[]> {
  const seqs: number[] = []
  while (seqs.at(-1) !== last) {
    const frame: Frame = await client.next('chat:message', undefined, timeoutMs)
    seqs.push(frame.payload.seq as number)
    if (seqs.length > last + 10) break
  }
  return seqs
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('joining with sinceSeq replays the missed messages in seq order before live ones', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  for (let i = 1; i <= 5; i++) await sendMessage(app, alice, groupId, `m${i}`)
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  client.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 2 }, requestId: 'j' })
  const joined = await client.next('chat:group_joined')
  t.match(joined.payload, { groupId, latestSeq: 5 })
  t.same(await seqsUntil(client, 5), [3, 4, 5])
  // The group_joined frame came before the replay.
  const types = client.frames.map((f) => f.type)
  t.ok(types.indexOf('chat:group_joined') < types.indexOf('chat:message'))
  await sendMessage(app, alice, groupId, 'live')
  t.same(await seqsUntil(client, 6), [6])
})

t.test('a replay while messages are being sent has no gap and no duplicate', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  await sendMany(app, alice, groupId, 20)
  for (let round = 0; round < 3; round++) {
    const client = await connectWs(app, { token: bob.token })
    await client.next('chat:sync')
    const before = 20 + round * 30
    // 30 sends race the join: some commit before the subscription, some during the replay, some after.
    const sending = sendMany(app, alice, groupId, 30, 5)
    client.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 5 } })
    await sending
    const seqs = await seqsUntil(client, before + 30)
    t.same(seqs, range(6, before + 30), `round ${round}: every seq after 5 exactly once, in order`)
    await client.close()
  }
})

t.test('joining without sinceSeq sends only what comes after the join', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  await sendMany(app, alice, groupId, 3)
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  const ack = await client.request('chat:join_group', { groupId })
  t.match(ack.payload, { latestSeq: 3 })
  await sendMessage(app, alice, groupId, 'after')
  t.same(await seqsUntil(client, 4), [4])
})

t.test('up to 1,000 missed messages are replayed; more answer chat:resync_required, then live events continue', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  await sendMany(app, alice, groupId, 1003, 25)

  const exactly = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await exactly.close() })
  exactly.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 3 } })
  t.same(await seqsUntil(exactly, 1003), range(4, 1003), '1,000 missed: all replayed')
  t.equal(exactly.frames.filter((f) => f.type === 'chat:resync_required').length, 0)

  const tooFar = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await tooFar.close() })
  tooFar.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 2 } })
  const resync = await tooFar.next('chat:resync_required', undefined, 10_000)
  t.same(resync.payload, { groupId, latestSeq: 1003 }, '1,001 missed: resync')
  t.ok(await tooFar.quiet('chat:message', 200), 'no partial replay')
  await sendMessage(app, alice, groupId, 'live')
  t.same(await seqsUntil(tooFar, 1004), [1004])
})

t.test('a client that reconnects and joins with its last seq gets everything it missed', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const first = await connectWs(app, { token: bob.token })
  await first.request('chat:join_group', { groupId })
  await sendMany(app, alice, groupId, 3)
  const seen = await seqsUntil(first, 3)
  await first.close()
  await sendMany(app, alice, groupId, 4)
  const second = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await second.close() })
  const sync = await second.next('chat:sync')
  t.match(sync.payload, { groups: [{ groupId, latestSeq: 7 }] })
  second.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: seen.at(-1) } })
  t.same(await seqsUntil(second, 7), [4, 5, 6, 7])
})

t.test('joining a group again restarts the subscription from the new sinceSeq', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  await sendMany(app, alice, groupId, 3)
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  client.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 0 } })
  t.same(await seqsUntil(client, 3), [1, 2, 3])
  client.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 1 } })
  t.same(await seqsUntil(client, 3), [2, 3])
  await sendMessage(app, alice, groupId, 'live')
  t.same(await seqsUntil(client, 4), [4], 'one subscription: the live message comes once')
  t.ok(await client.quiet('chat:message', 200))
})

t.test('a replay does not show messages the reader cleared for themselves', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  await sendMany(app, alice, groupId, 4)
  // Clear-for-me sets the reader's cleared_seq watermark; the replay honours it.
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: 3 })
    .where('user_id', '=', bob.user.id).execute()
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  client.send({ type: 'chat:join_group', payload: { groupId, sinceSeq: 0 } })
  t.same(await seqsUntil(client, 4), [4])
})
