import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { call, createChatGroup } from '../../helpers/api.ts'

// Two instances on one database, as in production; most tests use the first only.
const a = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })
const b = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })
const app = a

t.test('a burst of sends across groups, with retries inside it, stores each message once in gap-free seq order', async (t) => {
  const groups = await Promise.all([createChatGroup(app, { memberCount: 1 }), createChatGroup(app, { memberCount: 1 }), createChatGroup(app, { memberCount: 1 })])
  const retried = randomUUID()
  const sends = groups.flatMap((group, g) => Array.from({ length: 40 }, (_, i) => ({
    group,
    body: { content: `message ${i} of group ${g}`, clientMessageId: g === 0 && i % 4 === 0 ? retried : randomUUID() }
  })))
  const responses = await Promise.all(sends.map(async ({ group, body }) => await call(app, group.owner, 'POST', `/groups/${group.groupId}/chat/messages`, body)))

  t.same(responses.filter((r) => r.statusCode !== 201).map((r) => r.body), [], 'every send, retries included, answers 201')
  const retriedIds = new Set(responses.filter((_, i) => sends[i]?.body.clientMessageId === retried).map((r) => (r.json() as { data: { message: { id: string } } }).data.message.id))
  t.equal(retriedIds.size, 1, 'every retry answers the original message')

  for (const [g, group] of groups.entries()) {
    const rows = await app.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(group.groupId)).orderBy('seq').execute()
    const expected = g === 0 ? 40 - 9 : 40
    t.same(rows.map((r) => r.seq), Array.from({ length: expected }, (_, i) => i + 1), `group ${g}: seqs 1..${expected}, no gap, no duplicate`)
    const counter = await app.db.selectFrom('mirror_groups').select('last_seq').where('id', '=', toBin(group.groupId)).executeTakeFirstOrThrow()
    t.equal(counter.last_seq, expected, `group ${g}: the counter matches the rows`)
  }
})

t.test('a send to a group deleted meanwhile fails alone without failing the sends batched with it', async (t) => {
  const kept = await createChatGroup(app, { memberCount: 1 })
  const doomed = await createChatGroup(app, { memberCount: 1 })
  const membership = await app.groupService.getMembership(doomed.groupId, doomed.owner.user.id)
  if (membership === null) throw new Error('no membership')
  const caller = { user: { ...doomed.owner.user, sessionId: 'x', external: false }, membership }
  await app.db.deleteFrom('mirror_groups').where('id', '=', toBin(doomed.groupId)).execute()

  const results = await Promise.allSettled([
    ...Array.from({ length: 10 }, async (_, i) => await call(app, kept.owner, 'POST', `/groups/${kept.groupId}/chat/messages`, { content: `kept ${i}` })),
    app.chatService.sendMessage(caller, { content: 'to a group that is gone' })
  ])
  const last = results.at(-1)
  t.equal(last?.status, 'rejected')
  t.match(last?.status === 'rejected' ? last.reason : null, { code: 'NOT_FOUND' })
  t.same(results.slice(0, 10).map((r) => r.status === 'fulfilled' && 'statusCode' in r.value ? r.value.statusCode : 0), Array(10).fill(201))
})

t.test('a member removed on another instance cannot post there, though that instance still trusts its cached membership', async (t) => {
  const g = await createChatGroup(a, { memberCount: 1 })
  const member = g.members[0]!
  t.equal((await call(b, member, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'while a member' })).statusCode, 201)

  t.equal((await call(a, g.owner, 'DELETE', `/groups/${g.groupId}/members/${member.user.id}`)).statusCode, 200)
  t.not(await b.groupService.getMembership(g.groupId, member.user.id), null, 'instance b still holds the membership it read a moment ago')
  const res = await call(b, member, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'after the removal' })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { success: false, code: 'FORBIDDEN', error: 'You are not a member of this group' })
  const rows = await a.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(g.groupId)).where('sender_user_id', '=', member.user.id).execute()
  t.same(rows.map((r) => r.seq), [1], 'only the message sent as a member is stored')
  const counter = await a.db.selectFrom('mirror_groups').select('last_seq').where('id', '=', toBin(g.groupId)).executeTakeFirstOrThrow()
  t.equal(counter.last_seq, 1, 'the refused send took no seq')
})

t.test('an admin demoted on another instance cannot post in a broadcast group there', async (t) => {
  const g = await createChatGroup(a, { memberCount: 1, type: 'broadcast' })
  t.equal((await call(b, g.admin, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'announcement' })).statusCode, 201)

  t.equal((await call(a, g.owner, 'PATCH', `/groups/${g.groupId}/members/${g.admin.user.id}`, { role: 'member' })).statusCode, 200)
  t.equal((await b.groupService.getMembership(g.groupId, g.admin.user.id))?.role, 'admin', 'instance b still holds the admin role it read')
  const res = await call(b, g.admin, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'one more announcement' })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { code: 'FORBIDDEN', error: 'Only admins and the owner can post in a broadcast group' })
})

t.test('a send refused inside a batch fails alone; the sends batched with it commit with gap-free seqs', async (t) => {
  const g = await createChatGroup(a, { memberCount: 2 })
  const [stays, leaves] = g.members as [typeof g.owner, typeof g.owner]
  t.equal((await call(b, leaves, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'hello' })).statusCode, 201)
  t.equal((await call(a, g.owner, 'DELETE', `/groups/${g.groupId}/members/${leaves.user.id}`)).statusCode, 200)

  const sends = Array.from({ length: 21 }, (_, i) => i === 10
    ? call(b, leaves, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'from outside' })
    : call(b, i % 2 === 0 ? stays : g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: `message ${i}` }))
  const statuses = (await Promise.all(sends)).map((r) => r.statusCode)
  t.same(statuses, statuses.map((_, i) => i === 10 ? 403 : 201))
  const rows = await a.db.selectFrom('mirror_group_messages').select('seq').where('group_id', '=', toBin(g.groupId)).orderBy('seq').execute()
  t.same(rows.map((r) => r.seq), Array.from({ length: 21 }, (_, i) => i + 1), 'the first message and the 20 members\' sends: 1..21')
})
