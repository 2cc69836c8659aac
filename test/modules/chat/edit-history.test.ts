import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { TestUser } from '../../helpers/users.ts'
import type { MessageEditHistoryResponse, MessageEditVersion } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

// Issue 11 point 7: GET …/chat/messages/:messageId/history.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function historyOf (g: ChatGroup, who: TestUser, messageId: string) {
  return await call(app, who, 'GET', `/groups/${g.groupId}/chat/messages/${messageId}/history`)
}

async function edit (g: ChatGroup, messageId: string, content: string, metadata?: object): Promise<void> {
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${messageId}`, { content, ...(metadata === undefined ? {} : { metadata }) }))
}

t.test('a member reads the previous versions, newest first, with when each was written and replaced', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, { content: 'version one', metadata: { formatting: { bold: [[0, 7]] } } })
  await edit(g, m.id, 'version two', {})
  await edit(g, m.id, 'version three')
  const res = await historyOf(g, g.members[0] as TestUser, m.id)
  t.equal(res.statusCode, 200)
  const history = res.json().data as MessageEditHistoryResponse
  t.equal(history.messageId, m.id)
  t.equal(history.count, 2)
  t.same(history.versions.map((v) => [v.version, v.content, v.editedBy]), [[2, 'version two', g.owner.user.id], [1, 'version one', g.owner.user.id]])
  t.same(history.versions[1]?.metadata, { formatting: { bold: [[0, 7]] } }, 'each version with its own metadata')
  t.same(history.versions[0]?.metadata, {})
  const [second, first] = history.versions as [MessageEditVersion, MessageEditVersion]
  t.equal(first.writtenAt, m.createdAt, 'the original was written when sent')
  t.equal(second.writtenAt, first.editedAt, 'a version was written when the one before it was replaced')
  t.ok(Date.parse(second.editedAt) >= Date.parse(second.writtenAt))
  const rows = await app.db.selectFrom('mirror_group_message_edits').select('content').where('message_id', '=', toBin(m.id)).execute()
  t.notOk(rows.some((r) => r.content.includes(Buffer.from('version'))), 'the versions are stored sealed')
})

t.test('a message never edited has an empty history', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'as first written')
  t.same(dataOf(await historyOf(g, g.admin, m.id)), { messageId: m.id, versions: [], count: 0 })
})

t.test('the history is 404 for a deleted message, one cleared for the caller and one from a sender they blocked; other members still read it', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  const deleted = await sendMessage(app, g.owner, g.groupId, 'oops')
  await edit(g, deleted.id, 'oops, fixed')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${deleted.id}`))
  t.equal((await historyOf(g, alice, deleted.id)).statusCode, 404, 'deleted')

  const m = await sendMessage(app, g.owner, g.groupId, 'draft')
  await edit(g, m.id, 'final')
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: m.seq as number })
    .where('group_id', '=', toBin(g.groupId)).where('user_id', '=', alice.user.id).execute()
  t.equal((await historyOf(g, alice, m.id)).statusCode, 404, 'cleared for alice')
  dataOf(await call(app, bob, 'POST', `/users/${g.owner.user.id}/block`))
  t.equal((await historyOf(g, bob, m.id)).statusCode, 404, 'bob blocked its sender')
  t.equal((dataOf<MessageEditHistoryResponse>(await historyOf(g, g.admin, m.id))).count, 1, 'the admin still reads it')
  t.equal((await historyOf(g, g.outsider, m.id)).statusCode, 403, 'a non-member is refused as on every chat route')
  t.equal((await historyOf(g, g.admin, '00000000-0000-7000-8000-000000000000')).statusCode, 404, 'an unknown message')
})
