import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs, joined, type WsClient } from '../helpers/ws.ts'

// Seed 01 §5: every client → server type, and the server → client frames each one causes.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })
const api = app.config.apiPrefix

interface Room {
  alice: TestUser
  bob: TestUser
  groupId: string
  /** Alice's connection, joined to the group. */
  a: WsClient
  /** Bob's connection, joined to the group. */
  b: WsClient
}

/** Alice and Bob in a fresh group, both connected and joined. */
async function room (t: { teardown: (fn: () => unknown) => void }): Promise<Room> {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const a = await joined(app, alice, groupId)
  const b = await joined(app, bob, groupId)
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  return { alice, bob, groupId, a, b }
}

t.test('a frame that is not JSON gets chat:error VALIDATION_ERROR and the connection stays usable', async (t) => {
  const { a } = await room(t)
  a.send('{nope')
  const error = await a.next('chat:error')
  t.match(error.payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'frame' }] })
  t.equal((await a.request('ping', {})).type, 'chat:ack')
})

t.test('an unknown type gets chat:error with the requestId', async (t) => {
  const { a } = await room(t)
  const error = await a.request('chat:launch_rockets', {})
  t.equal(error.type, 'chat:error')
  t.match(error.payload, { code: 'VALIDATION_ERROR', error: /Unknown message type/, validationErrors: [{ field: 'type' }] })
})

t.test('a frame with wrong fields gets chat:error naming the fields', async (t) => {
  const { a } = await room(t)
  const error = await a.request('chat:join_group', { groupId: 'not-a-uuid', sinceSeq: -1 })
  t.equal(error.type, 'chat:error')
  t.equal(error.payload.code, 'VALIDATION_ERROR')
  const fields = (error.payload.validationErrors as Array<{ field: string }>).map((e) => e.field).sort()
  t.same(fields, ['groupId', 'sinceSeq'])
})

t.test('a frame without a type or with a non-object payload is malformed', async (t) => {
  const { a } = await room(t)
  a.send({ payload: {}, requestId: 'r1' })
  t.match((await a.next('chat:error', (f) => f.requestId === 'r1')).payload, { code: 'VALIDATION_ERROR' })
  a.send(JSON.stringify([1, 2, 3]))
  t.match((await a.next('chat:error')).payload, { code: 'VALIDATION_ERROR' })
  a.ws.send(Buffer.from([1, 2, 3]), { binary: true })
  t.match((await a.next('chat:error')).payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'frame' }] })
  t.equal((await a.request('ping', {})).type, 'chat:ack')
})

t.test('chat:send_message without a requestId is refused (seed 01: required for the ack)', async (t) => {
  const { a, groupId } = await room(t)
  a.send({ type: 'chat:send_message', payload: { groupId, content: 'hi' } })
  t.match((await a.next('chat:error')).payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'requestId' }] })
})

t.test('ping is answered with pong {timestamp} carrying the requestId, then the ack', async (t) => {
  const { a } = await room(t)
  const before = Date.now()
  a.send({ type: 'ping', payload: {}, requestId: 'hb' })
  const pong = await a.next('pong')
  t.equal(pong.requestId, 'hb')
  t.ok((pong.payload.timestamp as number) >= before)
  t.match((await a.next('chat:ack')).payload, { success: true })
  // Without a requestId: a pong and no ack.
  a.send({ type: 'ping', payload: {} })
  t.notOk((await a.next('pong')).requestId)
  t.ok(await a.quiet('chat:ack', 100))
})

t.test('chat:join_group answers chat:group_joined and an ack; the subscriber count spans connections', async (t) => {
  const { a, groupId, bob } = await room(t)
  const second = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await second.close() })
  second.send({ type: 'chat:join_group', payload: { groupId }, requestId: 'j' })
  const joined = await second.next('chat:group_joined')
  t.same(joined, { type: 'chat:group_joined', payload: { groupId, subscriberCount: 3, latestSeq: 0 }, requestId: 'j' })
  t.same((await second.next('chat:ack')).payload, { success: true, groupId, subscriberCount: 3, latestSeq: 0 })
  t.ok(a)
})

t.test('joining a group you are not a member of answers chat:error FORBIDDEN and keeps the connection', async (t) => {
  const { groupId } = await room(t)
  const eve = await registerUser(app)
  const client = await connectWs(app, { token: eve.token })
  t.teardown(async () => { await client.close() })
  const error = await client.request('chat:join_group', { groupId })
  t.match(error, { type: 'chat:error', payload: { code: 'FORBIDDEN' } })
  const unknown = await client.request('chat:join_group', { groupId: '0190a0a0-0000-7000-8000-000000000000' })
  t.match(unknown.payload, { code: 'FORBIDDEN' })
  t.equal((await client.request('ping', {})).type, 'chat:ack')
  t.equal(client.ws.readyState, client.ws.OPEN)
})

t.test('a message sent over REST reaches subscribers as chat:message with its seq and no content', async (t) => {
  const { a, b, bob, groupId } = await room(t)
  const sent = await sendMessage(app, bob, groupId, 'secret words')
  for (const client of [a, b]) {
    const message = await client.next('chat:message')
    t.match(message.payload, { id: sent.id, groupId, senderUserId: bob.user.id, seq: 1, encryptedContent: true, contentType: 'text' })
    t.notOk('content' in message.payload)
  }
})

t.test('chat:send_message commits, acks with seq and delivery counts, and reaches the group', async (t) => {
  const { a, b, alice, groupId } = await room(t)
  const carol = await registerUser(app)
  await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/members`, headers: alice.auth, payload: { userId: carol.user.id } })
  const ack = await a.request('chat:send_message', { groupId, content: 'hello', clientMessageId: 'c-1' })
  t.equal(ack.type, 'chat:ack')
  // Bob has a live connection, Carol has none.
  t.match(ack.payload, { success: true, messageId: String, clientMessageId: 'c-1', seq: 1, createdAt: String, deliveredToCount: 1, queuedForCount: 1 })
  const message = await b.next('chat:message')
  t.equal(message.payload.id, ack.payload.messageId)
  // A retry with the same clientMessageId gets the same ack and no second message.
  const retry = await a.request('chat:send_message', { groupId, content: 'hello', clientMessageId: 'c-1' })
  t.equal(retry.payload.messageId, ack.payload.messageId)
  t.equal(retry.payload.seq, 1)
  t.ok(await b.quiet('chat:message', 200))
})

t.test('chat:send_message to a group you are not in answers FORBIDDEN', async (t) => {
  const { groupId } = await room(t)
  const eve = await registerUser(app)
  const client = await connectWs(app, { token: eve.token })
  t.teardown(async () => { await client.close() })
  const error = await client.request('chat:send_message', { groupId, content: 'let me in' })
  t.match(error, { type: 'chat:error', payload: { code: 'FORBIDDEN' } })
})

t.test('chat:send_message with invalid content answers VALIDATION_ERROR on payload fields', async (t) => {
  const { a, groupId } = await room(t)
  const error = await a.request('chat:send_message', { groupId, content: '' })
  t.match(error.payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'content' }] })
})

t.test('chat:edit_message and chat:delete_message ack and reach the group', async (t) => {
  const { a, b, groupId } = await room(t)
  const sent = await a.request('chat:send_message', { groupId, content: 'first' })
  const messageId = sent.payload.messageId as string
  await b.next('chat:message')
  const edited = await a.request('chat:edit_message', { groupId, messageId, content: 'second' })
  t.match(edited, { type: 'chat:ack', payload: { success: true, messageId, editedAt: String } })
  t.match((await b.next('chat:message_edited')).payload, { messageId, groupId, editedAt: String })
  // Someone else's message: the chat service's rule holds over the socket too.
  const notYours = await b.request('chat:edit_message', { groupId, messageId, content: 'hijack' })
  t.match(notYours.payload, { code: 'FORBIDDEN' })
  const deleted = await a.request('chat:delete_message', { groupId, messageId })
  t.match(deleted.payload, { success: true, deleted: true, messageId })
  t.match((await b.next('chat:message_deleted')).payload, { messageId, groupId, deletedBy: Number })
})

t.test('reactions ack with the summaries and reach the group, hasReacted relative to each receiver', async (t) => {
  const { a, b, alice, groupId } = await room(t)
  const sent = await a.request('chat:send_message', { groupId, content: 'react to me' })
  const messageId = sent.payload.messageId as string
  const added = await b.request('chat:add_reaction', { groupId, messageId, emoji: '👍' })
  t.match(added.payload, { success: true, messageId, reactions: [{ emoji: '👍', count: 1, hasReacted: true }] })
  const atAlice = await a.next('chat:reactions_updated')
  t.match(atAlice.payload, { messageId, groupId, reactions: [{ emoji: '👍', count: 1, hasReacted: false }] })
  const atBob = await b.next('chat:reactions_updated')
  t.match(atBob.payload, { reactions: [{ emoji: '👍', hasReacted: true }] })
  const removed = await b.request('chat:remove_reaction', { groupId, messageId, emoji: '👍' })
  t.match(removed.payload, { success: true, reactions: [] })
  t.same((await a.next('chat:reactions_updated')).payload.reactions, [])
  t.ok(alice)
})

t.test('chat:mark_read acks, tells the group chat:message_read and the reader\'s devices chat:unread_count', async (t) => {
  const { a, b, bob, groupId } = await room(t)
  const bobsPhone = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await bobsPhone.close() })
  await bobsPhone.next('chat:sync')
  const sent = await a.request('chat:send_message', { groupId, content: 'read me' })
  const messageId = sent.payload.messageId as string
  const ack = await b.request('chat:mark_read', { groupId, messageId })
  t.match(ack.payload, { success: true, marked: true, upToMessageId: messageId })
  t.match((await a.next('chat:message_read')).payload, { messageIds: [messageId], groupId, userId: bob.user.id, readAt: String })
  t.same((await bobsPhone.next('chat:unread_count')).payload, { groupId, unreadCount: 0 })
})

t.test('typing start and stop reach the others as chat:typing; the typer does not get their own', async (t) => {
  const { a, b, alice, groupId } = await room(t)
  a.send({ type: 'chat:typing_start', payload: { groupId } })
  t.same((await b.next('chat:typing')).payload, { groupId, userId: alice.user.id, username: alice.user.username, isTyping: true })
  a.send({ type: 'chat:typing_stop', payload: { groupId } })
  t.same((await b.next('chat:typing')).payload, { groupId, userId: alice.user.id, username: alice.user.username, isTyping: false })
  t.ok(await a.quiet('chat:typing', 100))
})

t.test('chat:presence_update reaches every group of the user as chat:presence', async (t) => {
  const { a, b, alice, groupId } = await room(t)
  const ack = await a.request('chat:presence_update', { groupId, status: 'away', deviceType: 'web' })
  t.match(ack.payload, { success: true, groupId, status: 'away', deviceType: 'web' })
  const presence = await b.next('chat:presence', (f) => f.payload.status === 'away')
  t.match(presence.payload, { groupId, userId: alice.user.id, username: alice.user.username, status: 'away', lastSeenAt: String })
  const bad = await a.request('chat:presence_update', { groupId, status: 'sleeping' })
  t.match(bad.payload, { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'status' }] })
})

t.test('a mentioned user gets chat:mention without having joined the group', async (t) => {
  const { a, bob, groupId } = await room(t)
  const bobElsewhere = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await bobElsewhere.close() })
  await bobElsewhere.next('chat:sync')
  const content = `hi @${bob.user.username}`
  const metadata = { mentions: [{ userId: bob.user.id, username: bob.user.username, startIndex: 3, endIndex: content.length, type: 'user' }] }
  await a.request('chat:send_message', { groupId, content, metadata })
  const mention = await bobElsewhere.next('chat:mention')
  t.match(mention.payload, { groupId, mentionType: 'user', message: { groupId, content, senderUserId: Number } })
  // Not joined: no chat:message on that connection.
  t.ok(await bobElsewhere.quiet('chat:message', 100))
})

t.test('chat:leave_group answers chat:group_left and stops the group\'s events', async (t) => {
  const { a, b, bob, groupId } = await room(t)
  b.send({ type: 'chat:leave_group', payload: { groupId }, requestId: 'bye' })
  t.same(await b.next('chat:group_left'), { type: 'chat:group_left', payload: { groupId, reason: 'left' }, requestId: 'bye' })
  t.match((await b.next('chat:ack')).payload, { success: true, groupId })
  await a.request('chat:send_message', { groupId, content: 'anyone?' })
  t.ok(await b.quiet('chat:message', 200))
  t.ok(bob)
})

t.test('member and group events reach the group\'s subscribers', async (t) => {
  const { alice, b, groupId } = await room(t)
  const carol = await registerUser(app)
  const added = await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/members`, headers: alice.auth, payload: { userId: carol.user.id } })
  t.equal(added.statusCode, 201)
  t.match((await b.next('chat:member_joined')).payload, { groupId, userId: carol.user.id, role: 'member' })
  const updated = await app.inject({ method: 'PATCH', url: `${api}/groups/${groupId}`, headers: alice.auth, payload: { name: 'Renamed' } })
  t.equal(updated.statusCode, 200)
  t.match((await b.next('chat:group_updated')).payload, { groupId, updatedBy: alice.user.id })
})

t.test('a user added to a group hears of it on their own connections', async (t) => {
  const { alice, groupId } = await room(t)
  const carol = await registerUser(app)
  const client = await connectWs(app, { token: carol.token })
  t.teardown(async () => { await client.close() })
  await client.next('chat:sync')
  await app.inject({ method: 'POST', url: `${api}/groups/${groupId}/members`, headers: alice.auth, payload: { userId: carol.user.id } })
  t.match((await client.next('chat:member_joined')).payload, { groupId, userId: carol.user.id })
  t.equal((await client.request('chat:join_group', { groupId })).type, 'chat:ack')
})

t.test('chat:sync lists each group with latestSeq, unreadCount and lastReadMessageId', async (t) => {
  const { a, alice, bob, groupId } = await room(t)
  const first = await a.request('chat:send_message', { groupId, content: 'one' })
  await a.request('chat:send_message', { groupId, content: 'two' })
  const b2 = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await b2.close() })
  await b2.request('chat:mark_read', { groupId, messageId: first.payload.messageId })
  const fresh = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await fresh.close() })
  const sync = await fresh.next('chat:sync')
  t.same(sync.payload.groups, [{ groupId, latestSeq: 2, unreadCount: 1, lastReadMessageId: first.payload.messageId }])
  // Being added to the group is a notification, created off the request path (test/modules/notifications).
  t.type(sync.payload.unreadNotifications, 'number')
  t.ok(alice)
})
