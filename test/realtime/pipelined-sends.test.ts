import t from 'tap'
import { createConnection, type Connection as SqlConnection, type RowDataPacket } from 'mysql2/promise'
import type { FastifyInstance } from 'fastify'
import { toBin } from '../../src/lib/ids.ts'
import { SEND_LANES } from '../../src/modules/chat/send-batcher.ts'
import { buildTestApp } from '../helpers/app.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { joined, type Frame, type WsClient } from '../helpers/ws.ts'

// Several sends of one connection in flight at once (issue 16.2): a send does not wait for the
// ack of the one before it, yet sends of one connection take seqs in the order they were sent,
// every subscriber (on either instance) sees that order, and commands other than sends keep
// their place. A group's sends are held at its row lock by a transaction of the test, which
// makes "in flight" observable without timing: the send transaction waits on the lock.

const env = { RATE_LIMIT_SCALE: '1000' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const database = new URL(a.config.databaseUrl).pathname.slice(1)

const laneOf = (groupId: string): number => (toBin(groupId)[15] ?? 0) % SEND_LANES

/** Two groups of the owner and members whose sends commit on different lanes of the batcher. */
async function groupsOnTwoLanes (app: FastifyInstance, owner: TestUser, members: TestUser[]): Promise<[string, string]> {
  const first = await createGroup(app, owner, members)
  for (;;) {
    const other = await createGroup(app, owner, members)
    if (laneOf(other) !== laneOf(first)) return [first, other]
  }
}

/** Holds the group's row lock (what a send transaction takes first) until `release`. */
async function lockGroup (t: { teardown: (fn: () => unknown) => void }, groupId: string): Promise<{ release: () => Promise<void>, sendWaiting: () => Promise<void> }> {
  const sql: SqlConnection = await createConnection({ uri: a.config.databaseUrl })
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    await sql.query('ROLLBACK')
    await sql.end()
  }
  t.teardown(release)
  await sql.query('START TRANSACTION')
  await sql.query('SELECT id FROM mirror_groups WHERE id = ? FOR UPDATE', [toBin(groupId)])
  return {
    release,
    // Until a statement of the send transaction that names this group is running: it waits on
    // the lock held here, so the send reached its commit. (The processlist, not INNODB_TRX:
    // MariaDB 10.11 does not always list a transaction waiting in a multi-statement query.)
    async sendWaiting () {
      const hex = toBin(groupId).toString('hex').toUpperCase()
      for (;;) {
        const [rows] = await sql.query<RowDataPacket[]>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE ?",
          [database, `%X'${hex}'%`])
        if (Number(rows[0]?.n) > 0) return
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }
}

/** A chat:send_message whose clientMessageId is its content (events carry no content by default). */
function sendFrame (groupId: string, content: string, requestId: string, extra: Record<string, unknown> = {}): object {
  return { type: 'chat:send_message', payload: { groupId, content, clientMessageId: content, ...extra }, requestId }
}

async function replyTo (client: WsClient, requestId: string): Promise<Frame> {
  return await client.next(['chat:ack', 'chat:error'], (f) => f.requestId === requestId)
}

/** The requestIds of the chat:ack and chat:error frames the client got, in order. */
const repliesOf = (client: WsClient): Array<string | undefined> => client.frames.filter((f) => f.type === 'chat:ack' || f.type === 'chat:error').map((f) => f.requestId)

async function batches (app: FastifyInstance): Promise<{ count: number, sum: number }> {
  const metrics = parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body)
  return { count: sampleValue(metrics, 'parley_send_batch_size_count') ?? 0, sum: sampleValue(metrics, 'parley_send_batch_size_sum') ?? 0 }
}

/** Alice's connection, joined to a group whose row lock the test holds, and a group on another lane. */
async function senderAtHeldGroup (t: { teardown: (fn: () => unknown) => void }): Promise<{ held: string, free: string, sender: WsClient, lock: Awaited<ReturnType<typeof lockGroup>> }> {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const [held, free] = await groupsOnTwoLanes(a, alice, [bob])
  const sender = await joined(a, alice, held)
  t.teardown(async () => { await sender.close() })
  return { held, free, sender, lock: await lockGroup(t, held) }
}

t.test('a send does not wait for the ack of the connection\'s send before it', async (t) => {
  const { held, free, sender, lock } = await senderAtHeldGroup(t)

  sender.send(sendFrame(held, 'held at the lock', 'first'))
  sender.send(sendFrame(free, 'free to go', 'second'))
  await lock.sendWaiting()
  const second = await replyTo(sender, 'second')
  t.match(second, { type: 'chat:ack', payload: { seq: 1 } }, 'the second send committed while the first waits at the lock')
  t.same(repliesOf(sender).slice(1), ['second'], 'no reply to the first yet')
  await lock.release()
  t.match(await replyTo(sender, 'first'), { type: 'chat:ack', payload: { seq: 1 } })
  t.same(repliesOf(sender).slice(-2), ['second', 'first'], 'each ack carries its own requestId, in the order the sends finished')
})

t.test('sends in flight together commit in the order they were sent: acks, seqs and every subscriber follow it', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const [held, free] = await groupsOnTwoLanes(a, alice, [bob])
  const parent = await sendMessage(a, alice, held, 'the parent')
  const reader = await joined(a, bob, held, parent.seq)
  const sender = await joined(a, alice, held, parent.seq)
  t.teardown(async () => { await Promise.all([reader.close(), sender.close()]) })
  const lock = await lockGroup(t, held)

  // The first does the most before its commit (its parent is read): without the connection's
  // turn, the later ones would take their seqs first.
  sender.send(sendFrame(held, 's1', 'r1', { parentMessageId: parent.id }))
  for (let i = 2; i <= 6; i++) sender.send(sendFrame(held, `s${i}`, `r${i}`))
  // Sends reach the batcher in turn: once the one after them committed, all six are queued there.
  sender.send(sendFrame(free, 'elsewhere', 'r7'))
  t.match(await replyTo(sender, 'r7'), { type: 'chat:ack' })
  t.same(repliesOf(sender).slice(1), ['r7'], 'the six are in flight, none answered')
  const before = await batches(a)
  await lock.release()

  const acks = await Promise.all([1, 2, 3, 4, 5, 6].map(async (i) => await replyTo(sender, `r${i}`)))
  // Acks may come in any order (each carries its requestId); the seqs they carry follow the sends.
  t.same(acks.map((ack) => [ack.type, ack.payload.seq, ack.payload.clientMessageId]), [1, 2, 3, 4, 5, 6].map((i) => ['chat:ack', i + 1, `s${i}`]), 'seqs in send order')
  const seen: Frame[] = []
  for (let i = 0; i < 6; i++) seen.push(await reader.next('chat:message'))
  t.same(seen.map((f) => [f.payload.seq, f.payload.clientMessageId]), [[2, 's1'], [3, 's2'], [4, 's3'], [5, 's4'], [6, 's5'], [7, 's6']], 'the reader sees them in seq order')
  const after = await batches(a)
  t.equal(after.sum - before.sum, 6)
  t.ok(after.count - before.count <= 2, `the five queued behind the first share a commit (${after.count - before.count} transactions for six sends)`)
})

t.test('a command that is not a send waits for the sends before it, and the sends after it wait for it', async (t) => {
  const { held, free, sender, lock } = await senderAtHeldGroup(t)

  sender.send(sendFrame(held, 'held', 's1'))
  sender.send({ type: 'ping', payload: {}, requestId: 'ping' })
  sender.send(sendFrame(free, 'after the ping', 's2'))
  await lock.sendWaiting()
  await lock.release()
  await replyTo(sender, 's2')
  t.same(repliesOf(sender).slice(1), ['s1', 'ping', 's2'], 'the ping ran after the first send ended, the second send after the ping')
  const pongAt = sender.frames.findIndex((f) => f.type === 'pong')
  const firstAckAt = sender.frames.findIndex((f) => f.requestId === 's1')
  t.ok(pongAt > firstAckAt, 'the pong too')
})

t.test('pipelined sends on one instance reach subscribers on both instances in seq order, each once', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const watchers = [await joined(a, bob, groupId), await joined(b, bob, groupId), await joined(b, alice, groupId), await joined(a, alice, groupId)]
  const sender = await joined(a, alice, groupId)
  t.teardown(async () => { await Promise.all([...watchers, sender].map(async (c) => await c.close())) })

  const total = 48
  for (let i = 1; i <= total; i++) sender.send(sendFrame(groupId, `m${i}`, `r${i}`))
  const acks = await Promise.all(Array.from({ length: total }, async (_, i) => await replyTo(sender, `r${i + 1}`)))
  t.same(acks.map((ack) => [ack.type, ack.payload.seq]), Array.from({ length: total }, (_, i) => ['chat:ack', i + 1]), 'the n-th send took seq n')
  for (const [i, watcher] of watchers.entries()) {
    const seen: Array<[unknown, unknown]> = []
    for (let n = 0; n < total; n++) {
      const message = await watcher.next('chat:message')
      seen.push([message.payload.seq, message.payload.clientMessageId])
    }
    t.same(seen, Array.from({ length: total }, (_, n) => [n + 1, `m${n + 1}`]), `watcher ${i} saw every message once, in send order`)
    t.ok(await watcher.quiet('chat:message', 50), `watcher ${i}: nothing more`)
  }
  t.same(sender.frames.filter((f) => f.type === 'chat:message'), [], 'the sender has its acks instead')
})
