import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { ChatMessage, GetMessagesResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function page (g: ChatGroup, query: string, who = g.owner): Promise<GetMessagesResponse> {
  return dataOf<GetMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/messages${query}`))
}

async function sendMany (g: ChatGroup, count: number): Promise<ChatMessage[]> {
  const sent: ChatMessage[] = []
  for (let i = 1; i <= count; i++) sent.push(await sendMessage(app, g.owner, g.groupId, `message ${i}`))
  return sent
}

async function clearFor (g: ChatGroup, userId: number, seq: number): Promise<void> {
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: seq })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', userId).execute()
}

t.test('the first page holds the newest messages, newest first, with the default limit of 50', async (t) => {
  const g = await createChatGroup(app)
  await sendMany(g, 3)
  const first = await page(g, '')
  t.same(first.messages.map((m) => m.content), ['message 3', 'message 2', 'message 1'])
  t.equal(first.hasMore, false)
  t.equal(first.nextCursor, first.messages[2]?.id, 'nextCursor is the oldest message of the page')
  t.equal(first.messages[0]?.reactions, undefined, 'reactions only when asked for')
  t.equal(first.messages[0]?.readBy, undefined, 'readBy only when asked for')
})

t.test('25 messages paged back by 10 with before=nextCursor come with no gap and no duplicate', async (t) => {
  const g = await createChatGroup(app)
  const sent = await sendMany(g, 25)
  const newestFirst = sent.map((m) => m.id).reverse()

  const backwards: string[] = []
  let cursor: string | null | undefined
  const hasMore: boolean[] = []
  do {
    const result = await page(g, `?limit=10${cursor !== undefined && cursor !== null ? `&before=${cursor}` : ''}`)
    backwards.push(...result.messages.map((m) => m.id))
    hasMore.push(result.hasMore)
    cursor = result.hasMore ? result.nextCursor : null
  } while (cursor !== null)
  t.same(backwards, newestFirst)
  t.same(hasMore, [true, true, false])
})

t.test('paging forward as a seed 01 client does (after = the newest message it has) comes with no gap and no duplicate', async (t) => {
  const g = await createChatGroup(app)
  const sent = await sendMany(g, 25)
  // Seed 01 §11.1 loadNewerMessages: `after=${newestCursor}`, then newestCursor = messages[0].id.
  let newestCursor = sent[0]!.id
  const shown: string[] = [newestCursor]
  const pages: number[] = []
  const more: boolean[] = []
  for (;;) {
    const result = await page(g, `?limit=10&after=${newestCursor}`)
    if (result.messages.length === 0) break
    pages.push(result.messages.length)
    more.push(result.hasMore)
    t.same(result.messages.map((m) => m.seq), [...result.messages.map((m) => m.seq)].sort((a, b) => (b as number) - (a as number)), 'newest first within the page')
    t.equal(result.nextCursor, result.messages[result.messages.length - 1]?.id, 'nextCursor is the oldest message of the page, as with before')
    shown.unshift(...result.messages.map((m) => m.id))
    newestCursor = result.messages[0]!.id
  }
  t.same(pages, [10, 10, 4])
  t.same(more, [true, true, false], 'hasMore says whether newer messages follow')
  t.same(shown, sent.map((m) => m.id).reverse(), 'every message once, in order')
  const empty = await page(g, `?after=${sent[24]!.id}`)
  t.same(empty, { messages: [], hasMore: false, nextCursor: null })
})

t.test('nextCursor of a page read with after pages back with before from that page', async (t) => {
  const g = await createChatGroup(app)
  const sent = await sendMany(g, 6)
  const forward = await page(g, `?limit=3&after=${sent[1]!.id}`)
  t.same(forward.messages.map((m) => m.seq), [5, 4, 3])
  const back = await page(g, `?limit=3&before=${forward.nextCursor as string}`)
  t.same(back.messages.map((m) => m.seq), [2, 1], 'the messages before the page, none skipped, none repeated')
})

t.test('limit must be 1 to 100', async (t) => {
  const g = await createChatGroup(app)
  for (const limit of ['0', '101', 'x']) {
    const res = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages?limit=${limit}`)
    t.equal(res.statusCode, 400, limit)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'limit' }] })
  }
})

t.test('a cursor that is not a message of the group is a validation error', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const foreign = await sendMessage(app, other.owner, other.groupId, 'elsewhere')
  for (const query of [`?before=${foreign.id}`, '?after=01890a5d-ac96-774b-bcce-b302099a8057', '?before=not-a-uuid']) {
    const res = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: query.startsWith('?before') ? 'before' : 'after' }] })
  }
  const own = await sendMessage(app, g.owner, g.groupId, 'here')
  const both = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages?before=${own.id}&after=${own.id}`)
  t.equal(both.statusCode, 400, 'before and after together')
})

t.test('threadRootId lists the replies of a thread', async (t) => {
  const g = await createChatGroup(app)
  const root = await sendMessage(app, g.owner, g.groupId, 'root')
  await sendMessage(app, g.owner, g.groupId, 'unrelated')
  const r1 = await sendMessage(app, g.admin, g.groupId, { content: 'r1', parentMessageId: root.id })
  const r2 = await sendMessage(app, g.owner, g.groupId, { content: 'r2', parentMessageId: r1.id })
  const thread = await page(g, `?threadRootId=${root.id}`)
  t.same(thread.messages.map((m) => m.id), [r2.id, r1.id])
  t.equal((await page(g, '')).messages.find((m) => m.id === root.id)?.threadReplyCount, 2)
})

t.test('includeReactions adds reaction summaries relative to the caller', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'react to me')
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/reactions`, { emoji: '👍' }))
  const asOwner = await page(g, '?includeReactions=true')
  t.same(asOwner.messages[0]?.reactions, [{ emoji: '👍', count: 1, users: [g.admin.user.id], hasReacted: false }])
  const asAdmin = await page(g, '?includeReactions=true', g.admin)
  t.same(asAdmin.messages[0]?.reactions, [{ emoji: '👍', count: 1, users: [g.admin.user.id], hasReacted: true }])
})

t.test('includeReadBy lists the other members whose read watermark reached each message', async (t) => {
  const g = await createChatGroup(app)
  const [m1, m2, m3] = await sendMany(g, 3)
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m2!.id }))
  dataOf(await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m3!.id }))
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m3!.id }))
  const result = await page(g, '?includeReadBy=true')
  const readBy = (m: ChatMessage | undefined): number[] => [...(m?.readBy ?? [])].sort((a, b) => a - b)
  t.same(readBy(result.messages.find((m) => m.id === m3!.id)), [g.members[0]!.user.id])
  t.same(readBy(result.messages.find((m) => m.id === m1!.id)), [g.admin.user.id, g.members[0]!.user.id].sort((a, b) => a - b), 'never the sender')
})

t.test('a deleted message keeps its place with isDeleted, empty content and metadata', async (t) => {
  const g = await createChatGroup(app)
  const [, m2] = await sendMany(g, 3)
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m2!.id}`))
  const result = await page(g, '')
  t.same(result.messages.map((m) => m.seq), [3, 2, 1])
  t.match(result.messages[1], { id: m2!.id, isDeleted: true, content: '', metadata: {}, deletedAt: String })
})

t.test('messages at or before the caller\'s clear watermark are not shown to the caller', async (t) => {
  const g = await createChatGroup(app)
  const sent = await sendMany(g, 4)
  await clearFor(g, g.admin.user.id, 2)
  t.same((await page(g, '', g.admin)).messages.map((m) => m.seq), [4, 3])
  t.same((await page(g, '')).messages.map((m) => m.seq), [4, 3, 2, 1], 'only for that user')
  const hidden = await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${sent[0]!.id}`)
  t.equal(hidden.statusCode, 404)
  t.same((await page(g, `?before=${sent[2]!.id}`, g.admin)).messages, [])
})

t.test('one message comes with its reactions and readBy', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'single')
  dataOf(await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/reactions`, { emoji: '🎉' }))
  dataOf(await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m.id }))
  const res = await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)
  t.equal(res.statusCode, 200)
  t.match(res.json().data.message, {
    id: m.id,
    content: 'single',
    reactions: [{ emoji: '🎉', count: 1, users: [g.members[0]!.user.id], hasReacted: false }],
    readBy: [g.members[0]!.user.id],
    seq: 1
  })
})

t.test('a message id from another group is not found', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const foreign = await sendMessage(app, other.owner, other.groupId, 'not yours')
  const res = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${foreign.id}`)
  t.equal(res.statusCode, 404)
  t.match(res.json(), { success: false, code: 'NOT_FOUND' })
  const bad = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/nope`)
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'messageId' }] })
})
