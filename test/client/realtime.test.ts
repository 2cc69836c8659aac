/*
 * @parley/client's realtime connection against a real Parley: ticket auth, typed events,
 * exactly-once in-order delivery across dropped sockets, rejoin with sinceSeq. Close codes are
 * in close-codes.test.ts, the resync past the replay window in resync.test.ts.
 */
import t from 'tap'
import type { ChatMessage } from '@parley/types'
import {
  clientOf, collect, contents, history, isSeqOrdered, numbered, pair, recordingWebSocket, serverSockets, signUp, startServer, until
} from './harness.ts'

const server = await startServer(t, import.meta.url)

t.test('the socket is opened with a single-use ticket, never with the access token in the URL', async (t) => {
  const recording = recordingWebSocket()
  const client = clientOf(t, server, { WebSocket: recording.WebSocket })
  await signUp(client)
  await client.connect()
  t.equal(recording.urls.length, 1)
  const url = new URL(recording.urls[0] ?? '')
  t.equal(url.pathname, server.config.ws.path)
  t.ok(url.searchParams.get('ticket'), 'a ticket')
  t.notOk(url.searchParams.has('token'), 'no token parameter')
  t.notOk(recording.urls[0]?.includes(client.tokens?.token ?? '?'), 'the JWT is not in the URL')
})

t.test('a message sent by one member reaches the other once, with its content, and the sender sees its own', async (t) => {
  const { alice, bob, groupId } = await pair(t, server)
  const atBob = collect(bob)
  const atAlice = collect(alice)
  const ack = await alice.send(groupId, { content: 'hello bob' })
  t.equal(ack.success, true)
  t.ok(ack.seq >= 1)
  await atBob.waitFor(1)
  await atAlice.waitFor(1)
  t.match(atBob.messages, [{ content: 'hello bob', groupId, seq: ack.seq, id: ack.messageId }])
  t.match(atAlice.messages, [{ content: 'hello bob', seq: ack.seq }])
  t.notOk(await until(() => atBob.messages.length > 1 || atAlice.messages.length > 1, 300), 'nothing twice')
})

t.test('frames arrive as typed events: typing, reactions, read receipts and edits', async (t) => {
  const { alice, bob, groupId, bobId } = await pair(t, server)
  const typing: unknown[] = []
  const reactions: unknown[] = []
  const reads: unknown[] = []
  const edits: ChatMessage[] = []
  alice.on('chat:typing', (payload) => { typing.push(payload) })
  alice.on('chat:reactions_updated', (payload) => { reactions.push(payload) })
  alice.on('chat:message_read', (payload) => { reads.push(payload) })
  bob.on('messageEdited', (message) => { edits.push(message) })
  const atBob = collect(bob)

  t.ok(bob.typing(groupId, true), 'typing goes out on the open socket')
  t.ok(await until(() => typing.length > 0), 'alice sees bob typing')
  t.match(typing[0], { groupId, userId: bobId, isTyping: true })

  const ack = await alice.send(groupId, { content: 'react to me' })
  await atBob.waitFor(1)
  await bob.rest.chat.addReaction(groupId, ack.messageId, '👍')
  t.ok(await until(() => reactions.length > 0))
  t.match(reactions[0], { messageId: ack.messageId, reactions: [{ emoji: '👍', count: 1, users: [bobId] }] })

  await bob.markRead(groupId, ack.messageId)
  t.ok(await until(() => reads.length > 0))
  t.match(reads[0], { groupId, userId: bobId, messageIds: [ack.messageId] })

  await alice.rest.chat.editMessage(groupId, ack.messageId, { content: 'edited text' })
  t.ok(await until(() => edits.length > 0), 'bob gets the edited message')
  t.match(edits[0], { id: ack.messageId, content: 'edited text', isEdited: true })
})

t.test('a socket dropped again and again mid-burst loses nothing, duplicates nothing and keeps the order', async (t) => {
  const { alice, bob, groupId } = await pair(t, server)
  const atBob = collect(bob)
  const atAlice = collect(alice)
  const texts = numbered('burst', 150)
  const sends = texts.map(async (content) => await alice.send(groupId, { content }))
  let drops = 0
  for (const threshold of [20, 60, 100]) {
    await until(() => atBob.messages.length >= threshold)
    for (const socket of serverSockets(server)) socket.terminate()
    drops += 1
  }
  await Promise.all(sends)
  await atBob.waitFor(150)
  await atAlice.waitFor(150)
  t.equal(drops, 3)
  t.same(contents(atBob.messages), texts, 'bob: every message once, in order')
  t.same(contents(atAlice.messages), texts, 'alice: her own messages once, in order')
  t.ok(isSeqOrdered(atBob.messages), 'seqs ascend')

  const stored = await history(alice, groupId)
  t.same(contents(stored), texts, 'the server stored each message once, in the order sent')
  t.equal(new Set(stored.map((m) => m.clientMessageId)).size, 150, 'one clientMessageId each')
})

t.test('after a drop every joined group is rejoined with sinceSeq = the last seq delivered', async (t) => {
  const recording = recordingWebSocket()
  const { alice, bob, groupId } = await pair(t, server, { WebSocket: recording.WebSocket })
  const atBob = collect(bob)
  const joinsSent: Array<{ sinceSeq: unknown, deliveredSeq: number }> = []
  const send = recording.WebSocket.prototype.send
  t.teardown(() => { recording.WebSocket.prototype.send = send })
  recording.WebSocket.prototype.send = function (this: { send: (data: string) => void }, data: string) {
    const frame = JSON.parse(data) as { type: string, payload?: { sinceSeq?: unknown } }
    if (frame.type === 'chat:join_group') joinsSent.push({ sinceSeq: frame.payload?.sinceSeq, deliveredSeq: atBob.messages.at(-1)?.seq ?? 0 })
    send.call(this, data)
  }
  for (const content of numbered('before', 3)) await alice.send(groupId, { content })
  await atBob.waitFor(3)
  const reconnected = new Promise((resolve) => { bob.once('connected', resolve) })
  for (const socket of serverSockets(server)) socket.terminate()
  await reconnected
  t.ok(await until(() => joinsSent.length > 0))
  t.same(joinsSent[0], { sinceSeq: atBob.messages[2]?.seq, deliveredSeq: atBob.messages[2]?.seq }, 'the rejoin resumes after the last delivered message')
  await alice.send(groupId, { content: 'after' })
  await atBob.waitFor(4)
  t.same(contents(atBob.messages), [...numbered('before', 3), 'after'])
})

t.test('a member removed from a group stops following it and is told by groupUnavailable', async (t) => {
  const { alice, bob, groupId, bobId } = await pair(t, server)
  const unavailable: Array<{ groupId: string, code: string }> = []
  bob.on('groupUnavailable', ({ groupId, error }) => { unavailable.push({ groupId, code: error.code }) })
  await alice.rest.groups.removeMember(groupId, bobId)
  t.ok(await until(() => unavailable.length > 0))
  t.same(unavailable, [{ groupId, code: 'FORBIDDEN' }])
  t.notOk(bob.joinedGroups.includes(groupId), 'no longer followed')
  t.equal(bob.state, 'open', 'the connection itself stays')
})
