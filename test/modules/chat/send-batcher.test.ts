import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { call, createGroup } from './helpers.ts'

t.test('a burst of sends across groups, with retries inside it, stores each message once in gap-free seq order', async (t) => {
  const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })
  const groups = await Promise.all([createGroup(app, { memberCount: 1 }), createGroup(app, { memberCount: 1 }), createGroup(app, { memberCount: 1 })])
  const retried = randomUUID()
  const sends = groups.flatMap((group, g) => Array.from({ length: 40 }, (_, i) => ({
    group,
    body: { content: `message ${i} of group ${g}`, clientMessageId: g === 0 && i % 4 === 0 ? retried : randomUUID() }
  })))
  const responses = await Promise.all(sends.map(async ({ group, body }) => await call(app, group.owner, 'POST', `/groups/${group.groupId}/chat/messages`, body)))

  t.same(responses.filter((r) => r.statusCode >= 300).map((r) => r.body), [], 'every send succeeds')
  t.equal(responses.filter((r) => r.statusCode === 201).length, 3 * 40 - 9, 'the nine retries are answered as retries')
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
  const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })
  const kept = await createGroup(app, { memberCount: 1 })
  const doomed = await createGroup(app, { memberCount: 1 })
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
