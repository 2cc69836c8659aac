import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { PinnedMessagesResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function pinned (g: ChatGroup): Promise<PinnedMessagesResponse> {
  return dataOf<PinnedMessagesResponse>(await call(app, g.members[0]!, 'GET', `/groups/${g.groupId}/chat/pinned`))
}

t.test('an admin pins a message with a note: {pinned, messageId} and chat:message_pinned', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.members[0]!, g.groupId, 'Weekly meeting on Monday')
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, { note: 'Weekly meeting reminder' })
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { pinned: true, messageId: m.id })
  const [event] = eventsOfType(events, 'chat:message_pinned')
  t.match(event?.payload, { messageId: m.id, groupId: g.groupId, pinnedBy: g.admin.user.id, pinNote: 'Weekly meeting reminder', pinnedAt: String })
  const list = await pinned(g)
  t.equal(list.count, 1)
  t.match(list.pinnedMessages[0], {
    id: m.id,
    content: 'Weekly meeting on Monday',
    senderUserId: g.members[0]!.user.id,
    metadata: { pinNote: 'Weekly meeting reminder', pinnedAt: event?.payload.pinnedAt, pinnedBy: g.admin.user.id }
  })
})

t.test('a bare POST pins without a note', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'no note')
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/groups/${g.groupId}/chat/messages/${m.id}/pin`, headers: g.owner.auth })
  t.equal(res.statusCode, 200)
  t.match((await pinned(g)).pinnedMessages[0]?.metadata, { pinNote: null, pinnedBy: g.owner.user.id })
})

t.test('plain members cannot pin or unpin', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'important')
  const pin = await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, {})
  t.equal(pin.statusCode, 403)
  t.match(pin.json(), { code: 'FORBIDDEN' })
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, {}))
  const unpin = await call(app, g.members[0]!, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}/pin`)
  t.equal(unpin.statusCode, 403)
  t.equal((await pinned(g)).count, 1)
})

t.test('pinned messages come in pin order and pinning again only replaces the note', async (t) => {
  const g = await createChatGroup(app)
  const a = await sendMessage(app, g.owner, g.groupId, 'a')
  const b = await sendMessage(app, g.owner, g.groupId, 'b')
  const c = await sendMessage(app, g.owner, g.groupId, 'c')
  for (const m of [b, c, a]) dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, { note: `note ${m.content}` }))
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${b.id}/pin`, { note: 'updated' }))
  const list = await pinned(g)
  t.same(list.pinnedMessages.map((m) => m.content), ['b', 'c', 'a'])
  t.same(list.pinnedMessages.map((m) => m.metadata?.pinNote), ['updated', 'note c', 'note a'])
  const orders = await app.db.selectFrom('mirror_group_pinned_messages').select('pin_order').where('group_id', '=', toBin(g.groupId)).orderBy('pin_order').execute()
  t.same(orders.map((o) => o.pin_order), [1, 2, 3])
})

t.test('concurrent pins of different messages each get their own place', async (t) => {
  const g = await createChatGroup(app)
  const sent = await Promise.all(Array.from({ length: 6 }, async (_, i) => await sendMessage(app, g.owner, g.groupId, `m${i}`)))
  const results = await Promise.all(sent.map(async (m) => await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, {})))
  t.same(results.map((r) => r.statusCode), [200, 200, 200, 200, 200, 200])
  const orders = await app.db.selectFrom('mirror_group_pinned_messages').select('pin_order').where('group_id', '=', toBin(g.groupId)).orderBy('pin_order').execute()
  t.same(orders.map((o) => o.pin_order), [1, 2, 3, 4, 5, 6])
})

t.test('unpinning answers {unpinned, messageId}, publishes chat:message_unpinned and is idempotent', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'temp')
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, {}))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.admin, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}/pin`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { unpinned: true, messageId: m.id })
  t.same(eventsOfType(events, 'chat:message_unpinned').map((e) => e.payload), [{ messageId: m.id, groupId: g.groupId, unpinnedBy: g.admin.user.id }])
  t.same(await pinned(g), { pinnedMessages: [], count: 0 })
  const again = await call(app, g.admin, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}/pin`)
  t.equal(again.statusCode, 200)
  t.equal(eventsOfType(events, 'chat:message_unpinned').length, 1)
})

t.test('a pin note is at most 255 characters and the message must exist in the group', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'x')
  const long = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, { note: 'n'.repeat(256) })
  t.equal(long.statusCode, 400)
  t.match(long.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'note' }] })
  const foreign = await sendMessage(app, other.owner, other.groupId, 'y')
  t.equal((await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${foreign.id}/pin`, {})).statusCode, 404)
  t.equal((await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${foreign.id}/pin`)).statusCode, 404)
})
