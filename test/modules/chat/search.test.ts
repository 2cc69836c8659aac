import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { SearchMessagesResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import type { TestUser } from '../../helpers/users.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function search (g: ChatGroup, q: string, extra = '', who: TestUser = g.owner): Promise<SearchMessagesResponse> {
  return dataOf<SearchMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/search?q=${encodeURIComponent(q)}${extra}`))
}

t.test('search finds messages by word, newest first, with the query echoed and the total count', async (t) => {
  const g = await createChatGroup(app)
  const a = await sendMessage(app, g.owner, g.groupId, 'Let\'s schedule a meeting tomorrow')
  await sendMessage(app, g.owner, g.groupId, 'nothing to see')
  const b = await sendMessage(app, g.admin, g.groupId, 'The meeting moved to Friday')
  const result = await search(g, 'meeting')
  t.equal(result.query, 'meeting')
  t.equal(result.count, 2)
  t.same(result.messages.map((m) => m.id), [b.id, a.id])
  t.equal(result.messages[0]?.content, 'The meeting moved to Friday', 'full, decrypted messages')
})

t.test('every query word must match', async (t) => {
  const g = await createChatGroup(app)
  const both = await sendMessage(app, g.owner, g.groupId, 'quarterly budget review')
  await sendMessage(app, g.owner, g.groupId, 'budget only')
  await sendMessage(app, g.owner, g.groupId, 'review only')
  const result = await search(g, 'review BUDGET')
  t.same(result.messages.map((m) => m.id), [both.id])
  t.equal(result.count, 1)
})

t.test('accents and case fold: "café" is found by "CAFE"', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'Rendez-vous au café à midi')
  t.same((await search(g, 'CAFE')).messages.map((x) => x.id), [m.id])
  t.same((await search(g, 'Café')).messages.map((x) => x.id), [m.id])
  t.same((await search(g, 'a midi')).messages.map((x) => x.id), [m.id])
})

t.test('CJK text is found by a part of a word', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, '明日は東京タワーに行きます')
  await sendMessage(app, g.owner, g.groupId, '京都に行きます')
  t.same((await search(g, '東京')).messages.map((x) => x.id), [m.id])
  t.same((await search(g, 'タワー')).messages.map((x) => x.id), [m.id])
  t.equal((await search(g, '行き')).count, 2)
})

t.test('search never crosses groups', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  await sendMessage(app, other.owner, other.groupId, 'confidential merger plans')
  const mine = await sendMessage(app, g.owner, g.groupId, 'merger gossip')
  t.same((await search(g, 'merger')).messages.map((x) => x.id), [mine.id])
  t.equal((await search(g, 'confidential')).count, 0)
})

t.test('deleted messages and messages cleared for the caller are not found', async (t) => {
  const g = await createChatGroup(app)
  const deleted = await sendMessage(app, g.owner, g.groupId, 'pineapple one')
  const cleared = await sendMessage(app, g.owner, g.groupId, 'pineapple two')
  const kept = await sendMessage(app, g.owner, g.groupId, 'pineapple three')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${deleted.id}`))
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: cleared.seq as number })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', g.admin.user.id).execute()
  const asAdmin = await search(g, 'pineapple', '', g.admin)
  t.same(asAdmin.messages.map((x) => x.id), [kept.id])
  t.equal(asAdmin.count, 1)
  t.same((await search(g, 'pineapple')).messages.map((x) => x.id), [kept.id, cleared.id], 'clearing is per user')
})

t.test('limit and offset page through the matches; count stays the total', async (t) => {
  const g = await createChatGroup(app)
  const sent = []
  for (let i = 0; i < 7; i++) sent.push(await sendMessage(app, g.owner, g.groupId, `kiwi number ${i}`))
  const newestFirst = sent.map((m) => m.id).reverse()
  const first = await search(g, 'kiwi', '&limit=3')
  const second = await search(g, 'kiwi', '&limit=3&offset=3')
  const third = await search(g, 'kiwi', '&limit=3&offset=6')
  const beyond = await search(g, 'kiwi', '&limit=3&offset=9')
  t.same([...first.messages, ...second.messages, ...third.messages].map((m) => m.id), newestFirst)
  t.same([first.count, second.count, third.count, beyond.count], [7, 7, 7, 7])
  t.same(beyond.messages, [])
  t.equal((await search(g, 'kiwi')).messages.length, 7, 'default limit 20')
})

t.test('q must be 2 to 200 characters, limit at most 50, offset not negative', async (t) => {
  const g = await createChatGroup(app)
  const url = `/groups/${g.groupId}/chat/search`
  const bad: Array<[string, string]> = [
    ['', 'q'],
    ['?q=a', 'q'],
    [`?q=${'a'.repeat(201)}`, 'q'],
    ['?q=ok&limit=51', 'limit'],
    ['?q=ok&limit=0', 'limit'],
    ['?q=ok&offset=-1', 'offset']
  ]
  for (const [query, field] of bad) {
    const res = await call(app, g.owner, 'GET', `${url}${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field }] }, query)
  }
  t.same(dataOf(await call(app, g.owner, 'GET', `${url}?q=${encodeURIComponent('!!')}`)), { messages: [], query: '!!', count: 0 }, 'no searchable word, no match')
})
