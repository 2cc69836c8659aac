import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { Caller } from '../../../src/modules/membership/guard.ts'
import type { SendMessageRequest } from '../../../schemas/chat.ts'
import type { TestUser } from '../../helpers/users.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

/** The caller as the WebSocket gateway builds it: the token's user and the group service's membership. */
async function callerOf (g: ChatGroup, who: TestUser): Promise<Caller> {
  const membership = await app.groupService.getMembership(g.groupId, who.user.id)
  if (membership === null) throw new Error('not a member')
  return { user: { id: who.user.id, username: who.user.username, email: who.user.email, sessionId: 'test', external: false }, membership }
}

async function clearFor (g: ChatGroup, who: TestUser, seq: number): Promise<void> {
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: seq })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', who.user.id).execute()
}

t.test('the service sends for the WebSocket gateway exactly as REST does', async (t) => {
  const g = await createChatGroup(app)
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const caller = await callerOf(g, g.admin)
  const { message, created } = await app.chatService.sendMessage(caller, { content: 'over the socket', clientMessageId: 'ws-1' })
  t.equal(created, true)
  t.match(message, { content: 'over the socket', seq: 1, clientMessageId: 'ws-1' })
  const again = await app.chatService.sendMessage(caller, { content: 'over the socket', clientMessageId: 'ws-1' })
  t.same({ id: again.message.id, created: again.created }, { id: message.id, created: false })
  t.equal(eventsOfType(events, 'chat:message').length, 1)
  await t.rejects(app.chatService.sendMessage(caller, { content: '' }), { code: 'VALIDATION_ERROR' }, 'the service checks content itself')
  await t.rejects(app.chatService.addReaction(caller, message.id, 'has space'), { code: 'VALIDATION_ERROR' })
  const malformed = { content: 'x', metadata: { mentions: 'everyone', formatting: { bold: [1, 2] } } } as unknown as SendMessageRequest
  await t.rejects(app.chatService.sendMessage(caller, malformed), { code: 'VALIDATION_ERROR' }, 'metadata of the wrong shape is a validation error, not a crash')
})

t.test('replaySince returns the chat:message events after a seq, ascending, as published live', async (t) => {
  const g = await createChatGroup(app)
  const live = recordEvents(app, { groupId: g.groupId }, t)
  for (let i = 1; i <= 5; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  const replay = await app.chatService.replaySince(await callerOf(g, g.admin), 2, 100)
  t.same(replay.events.map((e) => e.payload.seq), [3, 4, 5])
  t.same(replay.events, eventsOfType(live, 'chat:message').slice(2), 'the same payloads as live')
  t.equal(replay.latestSeq, 5)
  t.equal(replay.truncated, false)
})

t.test('replaySince past its limit says so and reads and returns no message', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 5; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  const replay = await app.chatService.replaySince(await callerOf(g, g.admin), 0, 4)
  t.same(replay, { events: [], latestSeq: 5, clearedSeq: 0, truncated: true }, 'the join sends only chat:resync_required: nothing is read for it')
})

t.test('replaySince of exactly its limit returns every message', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 5; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  const replay = await app.chatService.replaySince(await callerOf(g, g.admin), 1, 4)
  t.same(replay.events.map((e) => e.payload.seq), [2, 3, 4, 5])
  t.equal(replay.truncated, false)
})

t.test('replaySince counts only the messages after the caller\'s clear watermark toward its limit', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 6; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  await clearFor(g, g.admin, 3)
  const replay = await app.chatService.replaySince(await callerOf(g, g.admin), 0, 3)
  t.same(replay.events.map((e) => e.payload.seq), [4, 5, 6])
  t.equal(replay.truncated, false)
  t.equal(replay.latestSeq, 6)
  t.equal(replay.clearedSeq, 3, 'and gives the watermark, for the gateway\'s live filter')
})

t.test('replaySince without a limit reads nothing and gives the position', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 2; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  t.same(await app.chatService.replaySince(await callerOf(g, g.admin), Number.MAX_SAFE_INTEGER, 0), { events: [], latestSeq: 2, clearedSeq: 0, truncated: false })
})

t.test('replaySince honours the caller\'s clear watermark and marks messages deleted since', async (t) => {
  const g = await createChatGroup(app)
  const sent = []
  for (let i = 1; i <= 4; i++) sent.push(await sendMessage(app, g.owner, g.groupId, { content: `m${i}`, metadata: { custom: { i } } }))
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${sent[3]!.id}`))
  await clearFor(g, g.admin, 2)
  const replay = await app.chatService.replaySince(await callerOf(g, g.admin), 0, 100)
  t.same(replay.events.map((e) => [e.payload.seq, e.payload.isDeleted]), [[3, false], [4, true]])
  t.same(replay.events[0]?.payload.metadata, { custom: { i: 3 } })
  t.same(replay.events[1]?.payload.metadata, {}, 'a deleted message has no metadata')
})

t.test('messageEventsBetween fills a gap of seqs, ascending', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 6; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  const events = await app.chatService.messageEventsBetween(g.groupId, 2, 5)
  t.same(events.map((e) => e.payload.seq), [3, 4, 5])
  t.same(await app.chatService.messageEventsBetween(g.groupId, 5, 5), [])
})

t.test('syncState gives each group of the user its latest seq, unread count and last read message', async (t) => {
  const g = await createChatGroup(app)
  const quiet = await createChatGroup(app)
  dataOf(await call(app, quiet.owner, 'POST', `/groups/${quiet.groupId}/members`, { userId: g.admin.user.id }))
  const m1 = await sendMessage(app, g.owner, g.groupId, 'one')
  await sendMessage(app, g.owner, g.groupId, 'two')
  await sendMessage(app, g.owner, g.groupId, 'three')
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m1.id }))
  const state = await app.chatService.syncState(g.admin.user.id)
  const byGroup = new Map(state.map((s) => [s.groupId, s]))
  t.same(byGroup.get(g.groupId), { groupId: g.groupId, latestSeq: 3, unreadCount: 2, lastReadMessageId: m1.id })
  t.same(byGroup.get(quiet.groupId), { groupId: quiet.groupId, latestSeq: 0, unreadCount: 0, lastReadMessageId: null })
  t.equal(state.length, 2)
})

t.test('markDelivered moves the delivered watermark forward only', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 3; i++) await sendMessage(app, g.owner, g.groupId, `m${i}`)
  const delivered = async (): Promise<number> => (await app.db.selectFrom('mirror_group_members').select('last_delivered_seq')
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', g.admin.user.id).executeTakeFirstOrThrow()).last_delivered_seq
  await app.chatService.markDelivered(g.admin.user.id, g.groupId, 3)
  t.equal(await delivered(), 3)
  await app.chatService.markDelivered(g.admin.user.id, g.groupId, 1)
  t.equal(await delivered(), 3, 'never backwards')
})

t.test('chatSummaries gives each group its newest visible message preview and unread count', async (t) => {
  const g = await createChatGroup(app)
  const empty = await createChatGroup(app)
  dataOf(await call(app, empty.owner, 'POST', `/groups/${empty.groupId}/members`, { userId: g.admin.user.id }))
  await sendMessage(app, g.owner, g.groupId, 'first')
  const long = await sendMessage(app, g.owner, g.groupId, '€'.repeat(150))
  const summaries = await app.chatService.chatSummaries(g.admin.user.id, [g.groupId, empty.groupId])
  t.same(summaries.get(g.groupId), {
    lastMessage: {
      id: long.id,
      senderUserId: g.owner.user.id,
      senderUsername: g.owner.user.username,
      contentType: 'text',
      preview: '€'.repeat(100),
      createdAt: long.createdAt,
      seq: 2
    },
    unreadCount: 2
  })
  t.same(summaries.get(empty.groupId), { lastMessage: null, unreadCount: 0 })

  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${long.id}`))
  t.equal((await app.chatService.chatSummaries(g.admin.user.id, [g.groupId])).get(g.groupId)?.lastMessage?.preview, null, 'a deleted message has no preview')
  await clearFor(g, g.admin, 2)
  t.same((await app.chatService.chatSummaries(g.admin.user.id, [g.groupId])).get(g.groupId), { lastMessage: null, unreadCount: 0 }, 'cleared history is not previewed')
  t.equal((await app.chatService.chatSummaries(g.outsider.user.id, [g.groupId])).size, 0, 'only the user\'s own groups')
})
