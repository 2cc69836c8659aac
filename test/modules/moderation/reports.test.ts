import t from 'tap'
import { toBin } from '../../../src/lib/ids.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

// Reporting a message (seed 04 "Message Reporting"): members, visible messages, one open report.
const app = await buildTestApp(t, import.meta.url)
const reportPath = (groupId: string, messageId: string): string => `/groups/${groupId}/chat/messages/${messageId}/report`

t.test('a member reports a message of their group: 201 with the pending report', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'buy my stuff')
  const reporter = members[0]!
  const res = await call(app, reporter, 'POST', reportPath(groupId, message.id), { reason: 'spam', details: 'Posted in five groups' })
  t.equal(res.statusCode, 201)
  const { report } = dataOf<{ report: Record<string, unknown> }>(res)
  t.match(report, {
    messageId: message.id,
    groupId,
    reportedBy: reporter.user.id,
    reason: 'spam',
    details: 'Posted in five groups',
    status: 'pending'
  })
  t.match(report.id, /^[0-9a-f-]{36}$/)
})

t.test('a second open report of the same message by the same member is a CONFLICT', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'hello')
  t.equal((await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'harassment' })).statusCode, 201)
  const again = await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'other' })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'CONFLICT')
  t.equal((await call(app, members[1]!, 'POST', reportPath(groupId, message.id), { reason: 'other' })).statusCode, 201, 'another member may report it too')
})

t.test('reports racing for the same message and member store one', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'race')
  const results = await Promise.all(Array.from({ length: 5 }, async () => await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'spam' })))
  t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409])
})

t.test('a non-member cannot report: 403; an unknown group: 404', async (t) => {
  const { groupId, owner, outsider } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'members only')
  t.equal((await call(app, outsider, 'POST', reportPath(groupId, message.id), { reason: 'spam' })).statusCode, 403)
  t.equal((await call(app, outsider, 'POST', reportPath('0190c4a4-0000-7000-8000-000000000000', message.id), { reason: 'spam' })).statusCode, 404)
})

t.test('a message of another group, reported through this group, is not found', async (t) => {
  const here = await createChatGroup(app)
  const there = await createChatGroup(app)
  const message = await sendMessage(app, there.owner, there.groupId, 'elsewhere')
  const res = await call(app, here.members[0]!, 'POST', reportPath(here.groupId, message.id), { reason: 'spam' })
  t.equal(res.statusCode, 404)
})

t.test('a message the member cleared from their history is not visible to them and cannot be reported', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'old news')
  // The clear-history watermark: messages up to cleared_seq are gone for this member.
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: message.seq ?? 1 })
    .where('group_id', '=', toBin(groupId)).where('user_id', '=', members[0]!.user.id).execute()
  t.equal((await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'spam' })).statusCode, 404)
  t.equal((await call(app, members[1]!, 'POST', reportPath(groupId, message.id), { reason: 'spam' })).statusCode, 201, 'others still see it')
})

t.test('a deleted message cannot be reported', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'regret')
  dataOf(await call(app, owner, 'DELETE', `/groups/${groupId}/chat/messages/${message.id}`))
  t.equal((await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'spam' })).statusCode, 404)
})

t.test('nobody reports their own message', async (t) => {
  const { groupId, owner } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'mine')
  t.equal((await call(app, owner, 'POST', reportPath(groupId, message.id), { reason: 'spam' })).statusCode, 403)
})

t.test('an unknown reason or overlong details are a VALIDATION_ERROR naming the field', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const bad = await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'boring' })
  t.equal(bad.statusCode, 400)
  t.ok((bad.json().validationErrors as Array<{ field: string }>).some((e) => e.field === 'reason'))
  const long = await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'other', details: 'x'.repeat(1001) })
  t.equal(long.statusCode, 400)
  t.ok((long.json().validationErrors as Array<{ field: string }>).some((e) => e.field === 'details'))
})

t.test('report details are stored encrypted, never in plain text', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const secret = 'he threatened me in the lobby'
  const { report } = dataOf<{ report: { id: string } }>(await call(app, members[0]!, 'POST', reportPath(groupId, message.id), { reason: 'harassment', details: secret }))
  const row = await app.db.selectFrom('message_reports').select(['details', 'details_key_version']).where('id', '=', toBin(report.id)).executeTakeFirstOrThrow()
  t.ok(row.details !== null && row.details_key_version !== null)
  t.notOk(row.details?.toString('latin1').includes('lobby'), 'the stored bytes do not hold the text')
})

t.test('reporting needs a token', async (t) => {
  const { groupId, owner } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}${reportPath(groupId, message.id)}`, payload: { reason: 'spam' } })
  t.equal(res.statusCode, 401)
})
