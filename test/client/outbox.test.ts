/*
 * The offline outbox of @parley/client against a real Parley: sends while disconnected are
 * queued with their clientMessageId, bounded, optionally persisted, and stored exactly once.
 */
import t, { type Test } from 'tap'
import type { OutboxEntry, OutboxStorage } from '../../client/src/index.ts'
import { clientOf, collect, contents, history, numbered, signUp, startServer, until } from './harness.ts'

const server = await startServer(t, import.meta.url)

/** An outbox storage in memory, shared by the clients given it (as localStorage is by page loads). */
function memoryStorage (): OutboxStorage & { saved: OutboxEntry[] } {
  const storage = {
    saved: [] as OutboxEntry[],
    load: () => structuredClone(storage.saved),
    save: (entries: OutboxEntry[]) => { storage.saved = structuredClone(entries) }
  }
  return storage
}

async function groupOf (t: Test): Promise<{ groupId: string, owner: ReturnType<typeof clientOf> }> {
  const owner = clientOf(t, server)
  await signUp(owner, 'owner')
  const { group } = await owner.rest.groups.create({ name: 'Outbox' })
  return { groupId: group.id, owner }
}

t.test('messages sent while disconnected wait in the outbox and are stored in order once connected', async (t) => {
  const { groupId, owner } = await groupOf(t)
  const seen = collect(owner)
  const joined = owner.joinGroup(groupId)
  const texts = numbered('offline', 5)
  const acks = texts.map(async (content) => await owner.send(groupId, { content }))
  t.equal(owner.pending.length, 5, 'queued while not connected')
  t.same(owner.pending.map((entry) => entry.message.content), texts)
  t.ok(owner.pending.every((entry) => typeof entry.clientMessageId === 'string' && entry.clientMessageId === entry.message.clientMessageId), 'each with its clientMessageId')
  await owner.connect()
  await joined
  const done = await Promise.all(acks)
  t.equal(done.length, 5, 'all acknowledged')
  t.equal(owner.pending.length, 0, 'the outbox is empty')
  t.same(contents(await history(owner, groupId)), texts, 'stored once each, in the order sent')
  t.same(contents(await seen.waitFor(5)), texts, 'and delivered to the sender in order')
})

t.test('the outbox is bounded: a send past its size fails with OUTBOX_FULL', async (t) => {
  const owner = clientOf(t, server, { outbox: { maxEntries: 3 } })
  await signUp(owner, 'owner')
  const { group } = await owner.rest.groups.create({ name: 'Bounded' })
  const queued = numbered('q', 3).map(async (content) => await owner.send(group.id, { content }))
  await t.rejects(owner.send(group.id, { content: 'one too many' }), { name: 'ParleyError', code: 'OUTBOX_FULL' })
  await owner.connect()
  await Promise.all(queued)
  t.same(contents(await history(owner, group.id)), numbered('q', 3), 'the three queued ones are stored, the refused one is not')
})

t.test('a persisted outbox survives the client: the next one sends what the last could not, once', async (t) => {
  const { groupId, owner } = await groupOf(t)
  const storage = memoryStorage()
  const first = clientOf(t, server, { session: owner.tokens, outbox: { storage } })
  const lost = numbered('persisted', 3).map(async (content) => await first.send(groupId, { content }))
  t.equal(storage.saved.length, 0, 'written asynchronously')
  t.ok(await until(() => storage.saved.length === 3), 'written to the storage')
  first.close()
  await t.rejects(Promise.all(lost), { code: 'CLIENT_CLOSED' }, 'the closed client gives up its promises, not its messages')

  const second = clientOf(t, server, { session: owner.tokens, outbox: { storage } })
  const sent: string[] = []
  second.on('sent', ({ entry }) => { sent.push(entry.message.content) })
  await second.connect()
  t.ok(await until(() => sent.length === 3), 'the next client sends them')
  t.same(sent, numbered('persisted', 3))
  t.ok(await until(() => storage.saved.length === 0), 'and empties the storage')
  t.same(contents(await history(second, groupId)), numbered('persisted', 3))
})

t.test('a resend of a message the server already stored (its ack was lost) is not stored twice', async (t) => {
  const { groupId, owner } = await groupOf(t)
  const clientMessageId = 'c5a0f5d2-1d7a-4a7e-9d65-7a1d2f0e9b11'
  // The first attempt reached the server, but the connection dropped before its ack came back.
  const { message } = await owner.rest.chat.sendMessage(groupId, { content: 'only once', clientMessageId })
  await owner.connect()
  const ack = await owner.send(groupId, { content: 'only once', clientMessageId })
  t.equal(ack.messageId, message.id, 'the ack names the original message')
  t.equal(ack.seq, message.seq)
  t.same(contents(await history(owner, groupId)), ['only once'])
})

t.test('a message the server refuses leaves the outbox with sendFailed and does not hold up the next', async (t) => {
  const { groupId, owner } = await groupOf(t)
  const stranger = clientOf(t, server)
  await signUp(stranger, 'stranger')
  const { group: own } = await stranger.rest.groups.create({ name: 'Mine' })
  const failures: string[] = []
  stranger.on('sendFailed', ({ entry, error }) => { failures.push(`${entry.message.content}: ${error.code}`) })
  const refused = stranger.send(groupId, { content: 'not a member' })
  const accepted = stranger.send(own.id, { content: 'fine' })
  await stranger.connect()
  await t.rejects(refused, { name: 'ParleyError', code: 'FORBIDDEN' })
  t.match(await accepted, { success: true })
  t.same(failures, ['not a member: FORBIDDEN'])
  t.equal(stranger.pending.length, 0)
  t.same(contents(await history(owner, groupId)), [], 'nothing reached the group')
})
