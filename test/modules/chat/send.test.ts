import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { ChatMessage } from '../../../schemas/chat.ts'
import { call, createChatGroup, createDirectChat, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'
import { connectWs } from '../../helpers/ws.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('a member sends a message and gets 201 with the complete ChatMessage', async (t) => {
  const g = await createChatGroup(app)
  const res = await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'Hello everyone!', clientMessageId: 'client-1' })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.equal(body.success, true)
  t.type(body.timestamp, 'string')
  const message = body.data.message as ChatMessage
  t.match(message.id, UUID, 'a UUIDv7 id')
  t.same({ ...message, id: undefined, createdAt: undefined, updatedAt: undefined }, {
    id: undefined,
    groupId: g.groupId,
    senderUserId: g.members[0]!.user.id,
    senderUsername: g.members[0]!.user.username,
    content: 'Hello everyone!',
    contentType: 'text',
    parentMessageId: null,
    threadRootId: null,
    threadReplyCount: 0,
    metadata: {},
    status: 'sent',
    isEdited: false,
    editedAt: null,
    isDeleted: false,
    deletedAt: null,
    encryptionKeyId: 'v1',
    clientMessageId: 'client-1',
    createdAt: undefined,
    updatedAt: undefined,
    reactions: [],
    attachments: [],
    seq: 1,
    forwardedCount: 0
  })
  t.equal(new Date(message.createdAt).toISOString(), message.createdAt)
  t.equal(message.updatedAt, message.createdAt)
})

t.test('each message of a group takes the next seq', async (t) => {
  const g = await createChatGroup(app)
  const seqs: number[] = []
  for (const content of ['one', 'two', 'three']) seqs.push((await sendMessage(app, g.owner, g.groupId, content)).seq as number)
  t.same(seqs, [1, 2, 3])
  const other = await createChatGroup(app)
  t.equal((await sendMessage(app, other.owner, other.groupId, 'first elsewhere')).seq, 1, 'seq counts per group')
})

t.test('50 concurrent sends to one group get seqs 1..50 exactly', async (t) => {
  const g = await createChatGroup(app, { memberCount: 4 })
  const senders = [g.owner, g.admin, ...g.members]
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const res = await call(app, senders[i % senders.length]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: `message ${i}` })
    t.equal(res.statusCode, 201)
    return res.json().data.message as ChatMessage
  }))
  t.same(results.map((m) => m.seq).sort((a, b) => (a as number) - (b as number)), Array.from({ length: 50 }, (_, i) => i + 1))
  const group = await app.db.selectFrom('mirror_groups').select('last_seq').where('id', '=', toBin(g.groupId)).executeTakeFirstOrThrow()
  t.equal(group.last_seq, 50)
})

t.test('a retried clientMessageId answers 201 with the original message, as seed 01 §4.2.1 answers a send, and adds no row', async (t) => {
  const g = await createChatGroup(app)
  const first = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'once', clientMessageId: 'retry-me' })
  const second = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'once more', clientMessageId: 'retry-me' })
  t.equal(first.statusCode, 201)
  t.equal(second.statusCode, 201)
  t.same(second.json().data.message, first.json().data.message, 'the original message, as first answered')
  const next = await sendMessage(app, g.owner, g.groupId, 'after the retry')
  t.equal(next.seq, 2, 'the retry took no seq')
})

t.test('over WebSocket, a retried send is acknowledged with the original message\'s id, seq and time', async (t) => {
  const g = await createChatGroup(app)
  const ws = await connectWs(app, { token: g.owner.token })
  t.teardown(async () => { await ws.close() })
  const first = await ws.request('chat:send_message', { groupId: g.groupId, content: 'once', clientMessageId: 'ws-retry' })
  const retry = await ws.request('chat:send_message', { groupId: g.groupId, content: 'once again', clientMessageId: 'ws-retry' })
  t.equal(first.type, 'chat:ack')
  t.equal(retry.type, 'chat:ack')
  const ids = (ack: typeof first): unknown => ({ messageId: ack.payload.messageId, clientMessageId: ack.payload.clientMessageId, seq: ack.payload.seq, createdAt: ack.payload.createdAt })
  t.same(ids(retry), ids(first))

  const overRest = await sendMessage(app, g.owner, g.groupId, { content: 'sent over REST', clientMessageId: 'rest-then-ws' })
  const wsRetry = await ws.request('chat:send_message', { groupId: g.groupId, content: 'sent over REST', clientMessageId: 'rest-then-ws' })
  t.match(wsRetry.payload, { success: true, messageId: overRest.id, clientMessageId: 'rest-then-ws', seq: overRest.seq, createdAt: overRest.createdAt })
  const rows = await app.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(g.groupId)).execute()
  t.equal(rows.length, 2, 'two messages stored, not four')
})

t.test('a clientMessageId with quotes, backslashes and SQL in it is stored exactly and still deduplicates', async (t) => {
  const g = await createChatGroup(app)
  const clientMessageId = 'it\'s "quoted" \\ back\\slash\'); DROP TABLE users; -- ü 日本'
  const first = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'tricky id', clientMessageId })
  t.equal(first.statusCode, 201)
  t.equal(first.json().data.message.clientMessageId, clientMessageId)
  const row = await app.db.selectFrom('mirror_group_messages').select(['client_message_id', 'created_at'])
    .where('id', '=', toBin(first.json().data.message.id)).executeTakeFirstOrThrow()
  t.equal(row.client_message_id, clientMessageId, 'the column holds the string byte for byte')
  t.equal(row.created_at.toISOString(), first.json().data.message.createdAt, 'and the time as answered (UTC)')
  const retry = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'tricky id', clientMessageId })
  t.equal(retry.statusCode, 201)
  t.equal(retry.json().data.message.id, first.json().data.message.id)
  const users = await app.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.ok(Number(users.n) > 0, 'nothing was dropped')
})

t.test('the same clientMessageId from another sender is a different message', async (t) => {
  const g = await createChatGroup(app)
  const a = await sendMessage(app, g.owner, g.groupId, { content: 'a', clientMessageId: 'same' })
  const b = await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'b', clientMessageId: 'same' })
  t.equal(b.statusCode, 201)
  t.not(b.json().data.message.id, a.id)
})

t.test('20 concurrent sends with one clientMessageId store one row and all answer 201 with its id', async (t) => {
  const g = await createChatGroup(app)
  const responses = await Promise.all(Array.from({ length: 20 }, async () =>
    await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'exactly once', clientMessageId: 'concurrent-1' })))
  t.same(responses.map((r) => r.statusCode), Array(20).fill(201))
  t.equal(new Set(responses.map((r) => r.json().data.message.id)).size, 1)
  const rows = await app.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(g.groupId)).execute()
  t.same(rows.map((r) => r.seq), [1])
  const group = await app.db.selectFrom('mirror_groups').select('last_seq').where('id', '=', toBin(g.groupId)).executeTakeFirstOrThrow()
  t.equal(group.last_seq, 1, 'no seq was lost to the duplicates')
})

t.test('content must be 1 to 10000 characters', async (t) => {
  const g = await createChatGroup(app)
  const url = `/groups/${g.groupId}/chat/messages`
  for (const content of ['', 'x'.repeat(10_001)]) {
    const res = await call(app, g.owner, 'POST', url, { content })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR', validationErrors: [{ field: 'content' }] })
  }
  const missing = await call(app, g.owner, 'POST', url, {})
  t.match(missing.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'content' }] })
  t.equal((await call(app, g.owner, 'POST', url, { content: 'x'.repeat(10_000) })).statusCode, 201)
  t.equal((await call(app, g.owner, 'POST', url, { content: '😀'.repeat(10_000) })).statusCode, 201, 'counted in characters, not UTF-16 units')
})

t.test('a bad contentType, parentMessageId or clientMessageId is a validation error', async (t) => {
  const g = await createChatGroup(app)
  const url = `/groups/${g.groupId}/chat/messages`
  t.match((await call(app, g.owner, 'POST', url, { content: 'x', contentType: 'gif' })).json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'contentType' }] })
  t.match((await call(app, g.owner, 'POST', url, { content: 'x', parentMessageId: 'nope' })).json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'parentMessageId' }] })
  t.match((await call(app, g.owner, 'POST', url, { content: 'x', clientMessageId: 'c'.repeat(65) })).json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'clientMessageId' }] })
  const res = await call(app, g.owner, 'POST', url, { content: 'x', contentType: 'image' })
  t.equal(res.json().data.message.contentType, 'image')
})

t.test('valid metadata is stored and returned', async (t) => {
  const g = await createChatGroup(app)
  const metadata = {
    mentions: [{ userId: g.admin.user.id, username: g.admin.user.username, startIndex: 0, endIndex: 6, type: 'user' }],
    links: [{ url: 'https://example.com/a', title: 'A', startIndex: 7, endIndex: 28 }],
    formatting: { bold: [[0, 6]], italic: [[7, 10]], code: [[11, 14]], links: [[7, 28, 'https://example.com/a']] },
    replyPreview: { messageId: '01890a5d-ac96-774b-bcce-b302099a8057', senderUsername: 'someone', content: 'earlier' },
    custom: { color: 'blue', nested: { n: 1 } }
  }
  const message = await sendMessage(app, g.owner, g.groupId, { content: '@admin https://example.com/a', metadata })
  t.same(message.metadata, metadata)
  const fetched = dataOf<{ message: ChatMessage }>(await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${message.id}`)).message
  t.same(fetched.metadata, metadata)
})

t.test('metadata breaking the rules is rejected with the field named', async (t) => {
  const g = await createChatGroup(app)
  const url = `/groups/${g.groupId}/chat/messages`
  const cases: Array<[string, object, string]> = [
    ['a mention past the end', { mentions: [{ userId: 1, username: 'a', startIndex: 3, endIndex: 50, type: 'user' }] }, 'metadata.mentions.0'],
    ['an empty mention range', { mentions: [{ userId: 1, username: 'a', startIndex: 2, endIndex: 2, type: 'user' }] }, 'metadata.mentions.0'],
    ['a javascript: link', { links: [{ url: 'javascript:alert(1)', startIndex: 0, endIndex: 4 }] }, 'metadata.links.0.url'],
    ['a data: link image', { links: [{ url: 'https://ok.test', image: 'data:image/png;base64,AA', startIndex: 0, endIndex: 4 }] }, 'metadata.links.0.image'],
    ['a formatting range outside', { formatting: { bold: [[0, 99]] } }, 'metadata.formatting.bold.0'],
    ['a formatting link to ftp', { formatting: { links: [[0, 4, 'ftp://x.test']] } }, 'metadata.formatting.links.0'],
    ['a custom object over 4 KB', { custom: { blob: 'x'.repeat(5000) } }, 'metadata.custom'],
    ['too many mentions', { mentions: Array.from({ length: 51 }, () => ({ userId: 1, username: 'a', startIndex: 0, endIndex: 1, type: 'user' })) }, 'metadata.mentions']
  ]
  for (const [name, metadata, field] of cases) {
    const res = await call(app, g.owner, 'POST', url, { content: 'hello world', metadata })
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field }] }, name)
  }
  const rows = await app.db.selectFrom('mirror_group_messages').select('id').where('group_id', '=', toBin(g.groupId)).execute()
  t.equal(rows.length, 0, 'nothing was stored')
})

t.test('pin fields in sent metadata are dropped: the server owns them', async (t) => {
  const g = await createChatGroup(app)
  const message = await sendMessage(app, g.owner, g.groupId, { content: 'hi', metadata: { pinNote: 'fake', pinnedBy: 1 } })
  t.same(message.metadata, {})
})

t.test('a new message is published as chat:message to the group without its content', async (t) => {
  const g = await createChatGroup(app)
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const message = await sendMessage(app, g.owner, g.groupId, { content: 'secret words', clientMessageId: 'evt-1' })
  const [event] = eventsOfType(events, 'chat:message')
  t.same(event?.payload, {
    id: message.id,
    groupId: g.groupId,
    senderUserId: g.owner.user.id,
    senderUsername: g.owner.user.username,
    contentType: 'text',
    parentMessageId: null,
    threadRootId: null,
    metadata: {},
    status: 'sent',
    clientMessageId: 'evt-1',
    createdAt: message.createdAt,
    encryptedContent: true,
    seq: 1,
    isDeleted: false
  })
  t.notMatch(JSON.stringify(events), /secret words/)
})

t.test('a group id spelled in upper case reaches the same group and its subscribers', async (t) => {
  const g = await createChatGroup(app)
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.owner, 'POST', `/groups/${g.groupId.toUpperCase()}/chat/messages`, { content: 'shouting id' })
  t.equal(res.statusCode, 201)
  t.equal(res.json().data.message.groupId, g.groupId)
  t.equal(eventsOfType(events, 'chat:message').length, 1)
})

t.test('with WS_BROADCAST_CONTENT the chat:message event carries the content', async (t) => {
  const broadcasting = await buildTestApp(t, import.meta.url, { env: { WS_BROADCAST_CONTENT: 'true', RATE_LIMIT_SCALE: '100' } })
  const g = await createChatGroup(broadcasting)
  const events = recordEvents(broadcasting, { groupId: g.groupId }, t)
  await sendMessage(broadcasting, g.owner, g.groupId, 'shared openly')
  t.match(eventsOfType(events, 'chat:message')[0]?.payload, { content: 'shared openly', encryptedContent: true })
})

t.test('in a broadcast group only admins and the owner post', async (t) => {
  const g = await createChatGroup(app, { type: 'broadcast' })
  const url = `/groups/${g.groupId}/chat/messages`
  const denied = await call(app, g.members[0]!, 'POST', url, { content: 'may I?' })
  t.equal(denied.statusCode, 403)
  t.match(denied.json(), { success: false, code: 'FORBIDDEN' })
  t.equal((await call(app, g.admin, 'POST', url, { content: 'announcement' })).statusCode, 201)
  t.equal((await call(app, g.owner, 'POST', url, { content: 'announcement 2' })).statusCode, 201)
})

t.test('only admins and the owner post system messages', async (t) => {
  const g = await createChatGroup(app)
  const url = `/groups/${g.groupId}/chat/messages`
  t.equal((await call(app, g.members[0]!, 'POST', url, { content: 'fake notice', contentType: 'system' })).statusCode, 403)
  t.equal((await call(app, g.admin, 'POST', url, { content: 'notice', contentType: 'system' })).statusCode, 201)
})

t.test('in a direct chat a user blocked by the other cannot send, in either direction', async (t) => {
  const a = await registerUser(app)
  const b = await registerUser(app)
  const groupId = await createDirectChat(app, a, b)
  t.equal((await call(app, a, 'POST', `/groups/${groupId}/chat/messages`, { content: 'hi' })).statusCode, 201)
  dataOf(await call(app, b, 'POST', `/users/${a.user.id}/block`))
  const blocked = await call(app, a, 'POST', `/groups/${groupId}/chat/messages`, { content: 'hello?' })
  t.equal(blocked.statusCode, 403)
  t.match(blocked.json(), { code: 'FORBIDDEN' })
  t.equal((await call(app, b, 'POST', `/groups/${groupId}/chat/messages`, { content: 'from the blocker' })).statusCode, 403)
  dataOf(await call(app, b, 'POST', `/users/${a.user.id}/unblock`))
  t.equal((await call(app, a, 'POST', `/groups/${groupId}/chat/messages`, { content: 'again' })).statusCode, 201)
})

t.test('replies get their thread root and the root counts its replies', async (t) => {
  const g = await createChatGroup(app)
  const root = await sendMessage(app, g.owner, g.groupId, 'root')
  const reply = await sendMessage(app, g.admin, g.groupId, { content: 'reply', parentMessageId: root.id, contentType: 'reply' })
  const nested = await sendMessage(app, g.members[0]!, g.groupId, { content: 'reply to reply', parentMessageId: reply.id })
  t.equal(reply.parentMessageId, root.id)
  t.equal(reply.threadRootId, root.id)
  t.equal(nested.parentMessageId, reply.id)
  t.equal(nested.threadRootId, root.id, 'the root of a reply to a reply is the original root')
  const fetched = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${root.id}`)).message
  t.equal(fetched.threadReplyCount, 2)
  const replyNow = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${reply.id}`)).message
  t.equal(replyNow.threadReplyCount, 0, 'only the root counts')
})

t.test('a parent message from another group is a validation error', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const foreign = await sendMessage(app, other.owner, other.groupId, 'elsewhere')
  const res = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'reply', parentMessageId: foreign.id })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'parentMessageId' }] })
})

t.test('mentions are stored for members only and each mentioned member gets chat:mention', async (t) => {
  const g = await createChatGroup(app)
  const mentionedEvents = recordEvents(app, { userId: g.admin.user.id }, t)
  const outsiderEvents = recordEvents(app, { userId: g.outsider.user.id }, t)
  const content = '@admin and @outsider'
  const message = await sendMessage(app, g.owner, g.groupId, {
    content,
    metadata: {
      mentions: [
        { userId: g.admin.user.id, username: g.admin.user.username, startIndex: 0, endIndex: 6, type: 'user' },
        { userId: g.outsider.user.id, username: g.outsider.user.username, startIndex: 11, endIndex: 20, type: 'user' }
      ]
    }
  })
  const rows = await app.db.selectFrom('mirror_group_message_mentions').selectAll().where('message_id', '=', toBin(message.id)).execute()
  t.same(rows.map((r) => ({ user: r.mentioned_user_id, type: r.mention_type, notified: r.notified, group: r.group_id.equals(toBin(g.groupId)) })), [
    { user: g.admin.user.id, type: 'user', notified: false, group: true }
  ])
  const [mention] = eventsOfType(mentionedEvents, 'chat:mention')
  t.equal(mention?.payload.groupId, g.groupId)
  t.equal(mention?.payload.mentionType, 'user')
  t.equal(mention?.payload.message.id, message.id)
  t.equal(mention?.payload.message.content, content, 'the full message')
  t.equal(outsiderEvents.length, 0, 'a non-member hears nothing')
})

t.test('@everyone mentions every other member', async (t) => {
  const g = await createChatGroup(app, { memberCount: 2 })
  const received = [g.admin, ...g.members].map((u) => recordEvents(app, { userId: u.user.id }, t))
  const ownerEvents = recordEvents(app, { userId: g.owner.user.id }, t)
  const message = await sendMessage(app, g.owner, g.groupId, {
    content: '@everyone hi',
    metadata: { mentions: [{ userId: 0, username: 'everyone', startIndex: 0, endIndex: 9, type: 'everyone' }] }
  })
  for (const events of received) t.match(eventsOfType(events, 'chat:mention'), [{ payload: { mentionType: 'everyone', message: { id: message.id } } }])
  t.equal(eventsOfType(ownerEvents, 'chat:mention').length, 0, 'not the sender')
  const rows = await app.db.selectFrom('mirror_group_message_mentions').select(['mentioned_user_id', 'mention_type']).where('message_id', '=', toBin(message.id)).execute()
  t.equal(rows.length, 3)
  t.ok(rows.every((r) => r.mention_type === 'everyone'))
})
