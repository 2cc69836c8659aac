import t from 'tap'
import type { ChatMessageEvent, ServerEvent } from '../../schemas/events.ts'
import { GroupSubscription, MAX_GAP_FILL, MAX_PENDING_EVENTS } from '../../src/realtime/subscription.ts'

// The ordering rules of one (connection, group) subscription, without a database: the
// database is a map of seq → event, and the test controls when a gap fill answers.

const groupId = '0190a0a0-0000-7000-8000-000000000001'

function message (seq: number): ChatMessageEvent {
  return {
    type: 'chat:message',
    payload: {
      id: `0190a0a0-0000-7000-8000-${String(seq).padStart(12, '0')}`,
      groupId,
      senderUserId: 1,
      senderUsername: 'alice',
      contentType: 'text',
      parentMessageId: null,
      threadRootId: null,
      metadata: {},
      status: 'sent',
      clientMessageId: null,
      createdAt: new Date(0).toISOString(),
      encryptedContent: true,
      seq,
      isDeleted: false
    }
  }
}

const edited = (seq: number): ServerEvent => ({
  type: 'chat:message_edited',
  payload: { messageId: message(seq).payload.id, groupId, editedAt: new Date(0).toISOString() }
})

interface Harness {
  subscription: GroupSubscription
  sent: ServerEvent[]
  seqs: () => number[]
  fetches: Array<[number, number]>
  resyncs: number[]
  /** Gap fills wait for this before answering. */
  release: () => void
}

function harness (options: { manual?: boolean, failFetch?: boolean } = {}): Harness {
  const sent: ServerEvent[] = []
  const fetches: Array<[number, number]> = []
  const resyncs: number[] = []
  let release: () => void = () => {}
  let gate = Promise.resolve()
  if (options.manual === true) gate = new Promise((resolve) => { release = resolve })
  const subscription = new GroupSubscription(groupId, {
    deliver: (event) => { sent.push(event) },
    fetchBetween: async (after, upto) => {
      fetches.push([after, upto])
      await gate
      if (options.failFetch === true) throw new Error('database down')
      const events: ServerEvent[] = []
      for (let seq = after + 1; seq <= upto; seq++) events.push(message(seq))
      return events
    },
    resync: (latestSeq) => { resyncs.push(latestSeq) },
    onError: () => {}
  })
  const seqs = (): number[] => sent.flatMap((e) => e.type === 'chat:message' ? [e.payload.seq] : [])
  return { subscription, sent, seqs, fetches, resyncs, release: () => { release() } }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('live events wait until the replay is done, then those already replayed are dropped', async (t) => {
  const h = harness()
  h.subscription.push(message(3))
  h.subscription.push(message(4))
  t.same(h.sent, [], 'nothing is sent while the replay runs')
  h.subscription.replay(message(2))
  h.subscription.replay(message(3))
  h.subscription.start(3)
  t.same(h.seqs(), [2, 3, 4])
})

t.test('a duplicate seq is dropped', async (t) => {
  const h = harness()
  h.subscription.start(0)
  for (const seq of [1, 2, 2, 1, 3]) h.subscription.push(message(seq))
  t.same(h.seqs(), [1, 2, 3])
})

t.test('a gap is filled from the database before the later seq is sent', async (t) => {
  const h = harness()
  h.subscription.start(1)
  h.subscription.push(message(5))
  await settle()
  t.same(h.fetches, [[1, 4]])
  t.same(h.seqs(), [2, 3, 4, 5])
})

t.test('events arriving during a gap fill keep their order behind it, late duplicates are dropped', async (t) => {
  const h = harness({ manual: true })
  h.subscription.start(0)
  h.subscription.push(message(3))
  h.subscription.push(edited(3))
  h.subscription.push(message(2))
  h.subscription.push(message(4))
  t.same(h.sent, [], 'held while the fill runs')
  h.release()
  await settle()
  await settle()
  t.same(h.sent.map((e) => e.type === 'chat:message' ? e.payload.seq : e.type), [1, 2, 3, 'chat:message_edited', 4])
})

t.test('a gap the database cannot fill asks the client to resync and delivery continues', async (t) => {
  const h = harness({ failFetch: true })
  h.subscription.start(0)
  h.subscription.push(message(3))
  await settle()
  await settle()
  t.same(h.resyncs, [2])
  t.same(h.seqs(), [3])
  h.subscription.push(message(4))
  t.same(h.seqs(), [3, 4])
})

t.test('a gap larger than the fill limit is a resync, not a huge read', async (t) => {
  const h = harness()
  h.subscription.start(0)
  h.subscription.push(message(MAX_GAP_FILL + 5))
  t.same(h.fetches, [])
  t.same(h.resyncs, [MAX_GAP_FILL + 4])
  t.same(h.seqs(), [MAX_GAP_FILL + 5])
})

t.test('a subscriber whose buffer overflows during a replay is told to resync, and memory stays bounded', async (t) => {
  const h = harness()
  for (let seq = 1; seq <= MAX_PENDING_EVENTS + 50; seq++) h.subscription.push(message(seq))
  h.subscription.start(0)
  t.equal(h.seqs().length, MAX_PENDING_EVENTS)
  t.same(h.resyncs, [MAX_PENDING_EVENTS + 50])
  h.subscription.push(message(MAX_PENDING_EVENTS + 51))
  t.equal(h.seqs().at(-1), MAX_PENDING_EVENTS + 51)
})

t.test('a closed subscription sends nothing more', async (t) => {
  const h = harness()
  h.subscription.start(0)
  h.subscription.push(message(1))
  h.subscription.close()
  h.subscription.push(message(2))
  h.subscription.push(edited(1))
  t.same(h.seqs(), [1])
  t.equal(h.sent.length, 1)
})
