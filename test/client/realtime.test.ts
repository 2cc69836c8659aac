/*
 * @parley/client's realtime connection against a real Parley: ticket auth, typed events,
 * exactly-once in-order delivery across dropped sockets and close codes, resync past the
 * replay window, in-place re-authentication.
 */
import t, { type Test } from 'tap'
import type { ChatMessage } from '@parley/types'
import { ParleyClient, type WebSocketConstructor } from '../../client/src/index.ts'
import { clientOf, collect, contents, history, numbered, serverSockets, signUp, startServer, until, type Server } from './harness.ts'

const server = await startServer(t, import.meta.url)

/** The platform WebSocket, recording the URLs it opens and the frames it sends. */
function recordingWebSocket (): { WebSocket: WebSocketConstructor, urls: string[], sent: Array<Record<string, unknown>> } {
  const urls: string[] = []
  const sent: Array<Record<string, unknown>> = []
  class Recording extends WebSocket {
    constructor (url: string) {
      urls.push(url)
      super(url)
    }

    override send (data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>)
      super.send(data)
    }
  }
  return { WebSocket: Recording as unknown as WebSocketConstructor, urls, sent }
}

interface Pair {
  alice: ParleyClient
  bob: ParleyClient
  groupId: string
  bobId: number
}

/** Alice and Bob, both connected, in a new group both follow. */
async function pair (t: Test, target: Server = server, options: Parameters<typeof clientOf>[2] = {}): Promise<Pair> {
  const alice = clientOf(t, target)
  const bob = clientOf(t, target, options)
  await signUp(alice, 'alice')
  const bobId = await signUp(bob, 'bob')
  const { group } = await alice.rest.groups.create({ name: 'Pair', memberIds: [bobId] })
  await Promise.all([alice.connect(), bob.connect()])
  await Promise.all([alice.joinGroup(group.id), bob.joinGroup(group.id)])
  return { alice, bob, groupId: group.id, bobId }
}

const isSeqOrdered = (messages: ChatMessage[]): boolean => messages.every((m, i) => i === 0 || (m.seq ?? 0) > (messages[i - 1]?.seq ?? 0))

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
  const { alice, bob, groupId } = await pair(t)
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
  const { alice, bob, groupId, bobId } = await pair(t)
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
  const { alice, bob, groupId } = await pair(t)
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

t.test('a 1013 close mid-burst reconnects and loses nothing', async (t) => {
  const { alice, bob, groupId } = await pair(t)
  const atBob = collect(bob)
  const texts = numbered('slow', 60)
  const sends = texts.map(async (content) => await alice.send(groupId, { content }))
  await until(() => atBob.messages.length >= 20)
  const closes: number[] = []
  bob.on('disconnected', ({ code }) => { closes.push(code) })
  for (const socket of serverSockets(server)) socket.close(1013, 'Send buffer full')
  await Promise.all(sends)
  await atBob.waitFor(60)
  t.ok(closes.includes(1013), 'bob saw the 1013')
  t.same(contents(atBob.messages), texts)
})

t.test('a 4429 close is retried, no sooner than the rate-limit delay', async (t) => {
  const recording = recordingWebSocket()
  const client = clientOf(t, server, { WebSocket: recording.WebSocket, reconnect: { initialMs: 10, maxMs: 50, rateLimitedMs: 600 } })
  await signUp(client)
  await client.connect()
  const closedAt = Date.now()
  const reconnected = new Promise((resolve) => { client.once('connected', resolve) })
  for (const socket of serverSockets(server)) socket.close(4429, 'Too many connections')
  await reconnected
  t.equal(recording.urls.length, 2, 'one new socket')
  t.ok(Date.now() - closedAt >= 600, `waited ${Date.now() - closedAt} ms`)
})

t.test('a 4001 close refreshes the token once and reconnects with it', async (t) => {
  const { alice, bob, groupId } = await pair(t)
  const atBob = collect(bob)
  const before = bob.tokens?.refreshToken
  const refreshed: string[] = []
  bob.on('tokens', ({ token }) => { refreshed.push(token) })
  const reconnected = new Promise((resolve) => { bob.once('connected', resolve) })
  for (const socket of serverSockets(server)) socket.close(4001, 'Token expired')
  await reconnected
  t.equal(refreshed.length, 1, 'one refresh')
  t.not(bob.tokens?.refreshToken, before, 'the session was renewed (refresh tokens rotate)')
  await alice.send(groupId, { content: 'still here' })
  t.match(await atBob.waitFor(1), [{ content: 'still here' }])
})

t.test('a 4001 that a refresh cannot cure ends with authFailed, and no more reconnects', async (t) => {
  const recording = recordingWebSocket()
  const client = clientOf(t, server, { WebSocket: recording.WebSocket })
  await signUp(client)
  await client.connect()
  const failures: unknown[] = []
  client.on('authFailed', (error) => { failures.push(error) })
  // The session ends on the server (sign-out elsewhere): its refresh token is refused from now on.
  await client.rest.auth.logout()
  for (const socket of serverSockets(server)) socket.close(4001, 'Session revoked')
  t.ok(await until(() => failures.length > 0), 'authFailed')
  t.match(failures[0], { name: 'ParleyError', code: 'UNAUTHORIZED' })
  t.equal(client.state, 'stopped')
  t.notOk(await until(() => recording.urls.length > 1, 500), 'no new socket')
  t.equal(client.tokens, null, 'the session is gone')
})

t.test('more than 1,000 missed messages are paged over REST: each once, in order', async (t) => {
  const { alice, bob, groupId } = await pair(t)
  const atBob = collect(bob)
  const resyncs: unknown[] = []
  bob.on('chat:resync_required', (payload) => { resyncs.push(payload) })
  await alice.send(groupId, { content: 'seen' })
  await atBob.waitFor(1)
  bob.disconnect()
  const texts = numbered('missed', 1050)
  const auth = { authorization: `Bearer ${alice.tokens?.token ?? ''}` }
  for (const content of texts) {
    const res = await server.app.inject({ method: 'POST', url: `${server.config.apiPrefix}/groups/${groupId}/chat/messages`, headers: auth, payload: { content } })
    if (res.statusCode !== 201) throw new Error(res.body)
  }
  await bob.connect()
  await atBob.waitFor(1051, 60_000)
  t.equal(resyncs.length, 1, 'the server asked for a resync')
  t.match(resyncs[0], { groupId })
  t.same(contents(atBob.messages), ['seen', ...texts])
  t.ok(isSeqOrdered(atBob.messages))
})
