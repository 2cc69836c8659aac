import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { newId, toBin } from '../../../src/lib/ids.ts'
import type { TestUser } from '../../helpers/users.ts'
import type { ChatMessage, CrossGroupSearchResponse, SearchMessagesResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

// Issue 11 point 8: filters on the group search, and the search across the caller's groups.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function search (g: ChatGroup, query: string, who: TestUser = g.owner): Promise<string[]> {
  const data = dataOf<SearchMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/search?${query}`))
  return data.messages.map((m) => m.id)
}

async function searchAll (who: TestUser, query: string): Promise<CrossGroupSearchResponse> {
  return dataOf<CrossGroupSearchResponse>(await call(app, who, 'GET', `/chat/search?${query}`))
}

async function sentAt (message: ChatMessage, at: string): Promise<void> {
  await app.db.updateTable('mirror_group_messages').set({ created_at: new Date(at) }).where('id', '=', toBin(message.id)).execute()
}

t.test('senderId keeps one sender\'s matches', async (t) => {
  const g = await createChatGroup(app)
  const mine = await sendMessage(app, g.owner, g.groupId, 'budget draft')
  await sendMessage(app, g.admin, g.groupId, 'budget comments')
  t.same(await search(g, `q=budget&senderId=${g.owner.user.id}`), [mine.id])
})

t.test('from and to bound the send time, both ends included', async (t) => {
  const g = await createChatGroup(app)
  const early = await sendMessage(app, g.owner, g.groupId, 'report january')
  const middle = await sendMessage(app, g.owner, g.groupId, 'report february')
  const late = await sendMessage(app, g.owner, g.groupId, 'report march')
  await sentAt(early, '2026-01-15T10:00:00.000Z')
  await sentAt(middle, '2026-02-15T10:00:00.000Z')
  await sentAt(late, '2026-03-15T10:00:00.000Z')
  t.same(await search(g, 'q=report&from=2026-02-15T10:00:00.000Z'), [late.id, middle.id])
  t.same(await search(g, 'q=report&to=2026-02-15T10:00:00.000Z'), [middle.id, early.id])
  t.same(await search(g, 'q=report&from=2026-02-01T00:00:00Z&to=2026-02-28T00:00:00Z'), [middle.id])
  const bad = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/search?q=report&from=yesterday`)
  t.equal(bad.statusCode, 400)
})

t.test('contentType and hasAttachments filter on the kind of message', async (t) => {
  const g = await createChatGroup(app)
  const text = await sendMessage(app, g.owner, g.groupId, 'holiday notes')
  const image = await sendMessage(app, g.owner, g.groupId, { content: 'holiday photo', contentType: 'image' })
  const file = await sendMessage(app, g.owner, g.groupId, { content: 'holiday tickets', contentType: 'file' })
  t.same(await search(g, 'q=holiday&contentType=image'), [image.id])
  t.same(await search(g, 'q=holiday&hasAttachments=true'), [file.id, image.id])
  t.same(await search(g, 'q=holiday&hasAttachments=false'), [text.id])
})

t.test('threadRootId keeps the replies of one thread', async (t) => {
  const g = await createChatGroup(app)
  const root = await sendMessage(app, g.owner, g.groupId, 'lunch plans?')
  const reply = await sendMessage(app, g.admin, g.groupId, { content: 'lunch at noon', parentMessageId: root.id })
  await sendMessage(app, g.admin, g.groupId, 'lunch was great')
  t.same(await search(g, `q=lunch&threadRootId=${root.id}`), [reply.id])
  t.same((await search(g, 'q=lunch')).length, 3, 'without the filter, every match')
})

t.test('the cross-group search finds matches in every group of the caller, newest first, and none of others\' groups', async (t) => {
  const first = await createChatGroup(app)
  const caller = first.owner
  const secondId = dataOf<{ group: { id: string } }>(await call(app, caller, 'POST', '/groups', { name: 'Second', memberIds: [first.admin.user.id] })).group.id
  const elsewhere = await createChatGroup(app)
  const a = await sendMessage(app, caller, first.groupId, 'roadmap review')
  const b = await sendMessage(app, first.admin, secondId, 'roadmap approved')
  await sendMessage(app, elsewhere.owner, elsewhere.groupId, 'roadmap secret')
  const result = await searchAll(caller, 'q=roadmap')
  t.same(result.messages.map((m) => [m.id, m.groupId]), [[b.id, secondId], [a.id, first.groupId]])
  t.match(result, { query: 'roadmap', count: 2, hasMore: false, nextCursor: null, groupsSearched: 2 })
  t.equal(result.messages[0]?.content, 'roadmap approved', 'decrypted with each group\'s key')
  t.same((await searchAll(caller, `q=roadmap&senderId=${caller.user.id}`)).messages.map((m) => m.id), [a.id], 'the filters apply too')
  t.same((await searchAll(elsewhere.owner, 'q=roadmap')).messages.map((m) => m.groupId), [elsewhere.groupId])
})

t.test('the cross-group search pages with a cursor, and applies each group\'s clear watermark and the caller\'s blocks', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app, { memberCount: 0 })
  const [alice] = g.members as [TestUser]
  dataOf(await call(app, other.owner, 'POST', `/groups/${other.groupId}/members`, { userId: alice.user.id }))
  const cleared = await sendMessage(app, g.owner, g.groupId, 'invoice one')
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: cleared.seq as number })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', alice.user.id).execute()
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.unshift((await sendMessage(app, other.owner, other.groupId, `invoice ${i + 2}`)).id)
  const blocked = await sendMessage(app, g.admin, g.groupId, 'invoice from the admin')
  dataOf(await call(app, alice, 'POST', `/users/${g.admin.user.id}/block`))
  const page1 = await searchAll(alice, 'q=invoice&limit=2')
  t.same(page1.messages.map((m) => m.id), ids.slice(0, 2))
  t.equal(page1.hasMore, true)
  const page2 = await searchAll(alice, `q=invoice&limit=2&cursor=${page1.nextCursor as string}`)
  t.same(page2.messages.map((m) => m.id), ids.slice(2), 'no message cleared for alice, none from whom she blocked')
  t.match(page2, { hasMore: false, nextCursor: null })
  const owners = (await searchAll(g.owner, 'q=invoice')).messages.map((m) => m.id)
  t.same(owners, [blocked.id, cleared.id], 'the other members see everything as before')
})

t.test('the cross-group search is limited as a search, and validates its input', async (t) => {
  const g = await createChatGroup(app)
  const res = await call(app, g.owner, 'GET', '/chat/search?q=anything')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-ratelimit-limit'], String(20 * 100), 'the search budget (20 a minute before RATE_LIMIT_SCALE)')
  t.equal((await call(app, g.owner, 'GET', '/chat/search?q=a')).statusCode, 400, 'a query too short')
  t.equal((await call(app, g.owner, 'GET', '/chat/search?q=ok&cursor=nope')).statusCode, 400, 'a cursor that is no message id')
  t.equal((await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/chat/search?q=anything` })).statusCode, 401)
})

t.test('the cross-group search looks in the caller\'s 100 most recently active groups only', async (t) => {
  const g = await createChatGroup(app)
  const old = await sendMessage(app, g.owner, g.groupId, 'archive treasure')
  await app.db.updateTable('mirror_groups').set({ last_activity_at: new Date('2020-01-01T00:00:00Z') }).where('id', '=', toBin(g.groupId)).execute()
  t.same((await searchAll(g.owner, 'q=treasure')).messages.map((m) => m.id), [old.id], 'found while among the newest 100')
  const now = new Date()
  const groups = Array.from({ length: 100 }, () => ({ id: toBin(newId()), name: 'Busy', type: 'group' as const, last_activity_at: now, created_at: now, updated_at: now }))
  await app.db.insertInto('mirror_groups').values(groups).execute()
  await app.db.insertInto('mirror_group_members').values(groups.map((row) => ({ group_id: row.id, user_id: g.owner.user.id, role: 'owner' as const, joined_at: now }))).execute()
  const result = await searchAll(g.owner, 'q=treasure')
  t.equal(result.groupsSearched, 100)
  t.same(result.messages, [], 'the 101st group is not searched')
})
