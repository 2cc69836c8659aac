import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { ChatMessage, UnreadCountResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'
import type { TestUser } from '../../helpers/users.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function unread (g: ChatGroup, who: TestUser): Promise<number> {
  return dataOf<UnreadCountResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/unread`)).unreadCount
}

async function watermark (g: ChatGroup, who: TestUser): Promise<{ last_read_seq: number, last_read_at: Date | null }> {
  return await app.db.selectFrom('mirror_group_members').select(['last_read_seq', 'last_read_at'])
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', who.user.id).executeTakeFirstOrThrow()
}

t.test('marking a message read answers {marked, upToMessageId} and sets the read watermark to its seq', async (t) => {
  const g = await createChatGroup(app)
  const [, second] = [await sendMessage(app, g.owner, g.groupId, 'a'), await sendMessage(app, g.owner, g.groupId, 'b'), await sendMessage(app, g.owner, g.groupId, 'c')]
  const res = await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: second.id })
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { marked: true, upToMessageId: second.id })
  const mark = await watermark(g, g.admin)
  t.equal(mark.last_read_seq, 2)
  t.ok(mark.last_read_at instanceof Date)
})

t.test('the read watermark never moves backwards', async (t) => {
  const g = await createChatGroup(app)
  const sent: ChatMessage[] = []
  for (const c of ['a', 'b', 'c']) sent.push(await sendMessage(app, g.owner, g.groupId, c))
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: sent[2]!.id }))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: sent[0]!.id })
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { marked: true, upToMessageId: sent[0]!.id })
  t.equal((await watermark(g, g.admin)).last_read_seq, 3)
  t.equal(events.length, 0, 'no event when nothing moved')
})

t.test('unread counts messages from others after the watermark, excluding deleted ones', async (t) => {
  const g = await createChatGroup(app)
  t.equal(await unread(g, g.admin), 0)
  const m1 = await sendMessage(app, g.owner, g.groupId, 'one')
  await sendMessage(app, g.owner, g.groupId, 'two')
  await sendMessage(app, g.admin, g.groupId, 'my own')
  const m4 = await sendMessage(app, g.owner, g.groupId, 'four')
  const res = await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/unread`)
  t.same(res.json().data, { groupId: g.groupId, unreadCount: 3 })
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m1.id }))
  t.equal(await unread(g, g.admin), 2)
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m4.id}`))
  t.equal(await unread(g, g.admin), 1)
  t.equal(await unread(g, g.owner), 1, 'the owner has one message from the admin')
})

t.test('unread ignores messages cleared for the user', async (t) => {
  const g = await createChatGroup(app)
  for (const c of ['a', 'b', 'c']) await sendMessage(app, g.owner, g.groupId, c)
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: 2 })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', g.admin.user.id).execute()
  t.equal(await unread(g, g.admin), 1)
})

t.test('a read publishes chat:message_read to the group and chat:unread_count to the reader', async (t) => {
  const g = await createChatGroup(app)
  const m1 = await sendMessage(app, g.owner, g.groupId, 'one')
  await sendMessage(app, g.owner, g.groupId, 'two')
  const groupEvents = recordEvents(app, { groupId: g.groupId }, t)
  const readerEvents = recordEvents(app, { userId: g.admin.user.id }, t)
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m1.id }))
  const [read] = eventsOfType(groupEvents, 'chat:message_read')
  t.match(read?.payload, { messageIds: [m1.id], groupId: g.groupId, userId: g.admin.user.id, readAt: String })
  t.same(eventsOfType(readerEvents, 'chat:unread_count').map((e) => e.payload), [{ groupId: g.groupId, unreadCount: 1 }])
})

t.test('marking read an unknown message or one of another group is not found', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const foreign = await sendMessage(app, other.owner, other.groupId, 'x')
  const res = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: foreign.id })
  t.equal(res.statusCode, 404)
  const bad = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: 'nope' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'messageId' }] })
  t.equal((await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/read`, {})).statusCode, 400)
})

async function markRead (g: ChatGroup, who: TestUser, messageId: string): Promise<void> {
  dataOf(await call(app, who, 'POST', `/groups/${g.groupId}/chat/read`, { messageId }))
}

t.test('chat:message_read lists every message the mark newly read, from others and not deleted, oldest first with the watermark message last', async (t) => {
  const g = await createChatGroup(app)
  const m1 = await sendMessage(app, g.owner, g.groupId, 'one')
  const m2 = await sendMessage(app, g.owner, g.groupId, 'two')
  const own = await sendMessage(app, g.admin, g.groupId, 'the reader\'s own')
  const gone = await sendMessage(app, g.owner, g.groupId, 'deleted')
  const m5 = await sendMessage(app, g.members[0]!, g.groupId, 'five')
  const m6 = await sendMessage(app, g.owner, g.groupId, 'six')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${gone.id}`))
  const events = recordEvents(app, { groupId: g.groupId }, t)

  await markRead(g, g.admin, m2.id)
  await markRead(g, g.admin, m6.id)
  await markRead(g, g.admin, m5.id)
  const ownLast = await sendMessage(app, g.admin, g.groupId, 'mine again')
  await markRead(g, g.admin, ownLast.id)
  t.same(eventsOfType(events, 'chat:message_read').map((e) => e.payload.messageIds), [
    [m1.id, m2.id],
    [m5.id, m6.id],
    [ownLast.id]
  ], 'each message once; the reader\'s own and deleted ones only as the watermark; nothing when the watermark does not move')
  t.notOk(eventsOfType(events, 'chat:message_read').some((e) => e.payload.messageIds.includes(own.id)))
})

t.test('a mark over more than 100 unread messages lists the newest 99 of them and the watermark message', async (t) => {
  const g = await createChatGroup(app)
  const sent: ChatMessage[] = []
  for (let i = 0; i < 120; i++) sent.push(await sendMessage(app, g.owner, g.groupId, `message ${i}`))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  await markRead(g, g.admin, sent[119]!.id)
  const [read] = eventsOfType(events, 'chat:message_read')
  t.same(read?.payload.messageIds, sent.slice(20).map((m) => m.id))
})

t.test('concurrent marks by one reader report every message exactly once', async (t) => {
  const g = await createChatGroup(app)
  const sent: ChatMessage[] = []
  for (let i = 0; i < 12; i++) sent.push(await sendMessage(app, g.owner, g.groupId, `message ${i}`))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  await Promise.all([3, 7, 11, 5, 9].map(async (i) => { await markRead(g, g.admin, sent[i]!.id) }))
  const reported = eventsOfType(events, 'chat:message_read').flatMap((e) => e.payload.messageIds)
  t.same([...reported].sort(), sent.map((m) => m.id).sort(), 'all twelve, none twice')
  t.equal((await watermark(g, g.admin)).last_read_seq, 12)
})
