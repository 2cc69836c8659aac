import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import type { ReactionSummary } from '../../../schemas/chat.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

type Reactions = { reactions: ReactionSummary[] }

t.test('adding a reaction answers the message\'s summaries and publishes chat:reactions_updated', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'nice')
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  dataOf(await call(app, g.admin, 'POST', url, { emoji: '👍' }))
  const res = await call(app, g.members[0]!, 'POST', url, { emoji: '👍' })
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { reactions: [{ emoji: '👍', count: 2, users: [g.admin.user.id, g.members[0]!.user.id], hasReacted: true }] })
  const updates = eventsOfType(events, 'chat:reactions_updated')
  t.equal(updates.length, 2)
  t.same(updates[1]?.payload, { messageId: m.id, groupId: g.groupId, reactions: res.json().data.reactions })
})

t.test('the same emoji twice is a no-op that returns the current state', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hi')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  const first = dataOf<Reactions>(await call(app, g.admin, 'POST', url, { emoji: '❤️' }))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const again = await call(app, g.admin, 'POST', url, { emoji: '❤️' })
  t.equal(again.statusCode, 200)
  t.same(again.json().data, first)
  t.equal(events.length, 0, 'nothing changed, nothing published')
})

t.test('distinct emoji stay distinct, even when they differ only by a variation selector', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hearts')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  for (const emoji of ['❤', '❤️', '😀', '😁', '👍🏽', '👍']) dataOf(await call(app, g.admin, 'POST', url, { emoji }))
  const { reactions } = dataOf<Reactions>(await call(app, g.owner, 'GET', url))
  t.same(reactions.map((r) => r.emoji), ['❤', '❤️', '😀', '😁', '👍🏽', '👍'], 'in the order they were first added')
  t.ok(reactions.every((r) => r.count === 1 && r.hasReacted === false))
})

t.test('a reaction is removed with the emoji URL-encoded in the path', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hi')
  const base = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  dataOf(await call(app, g.admin, 'POST', base, { emoji: '👍' }))
  dataOf(await call(app, g.owner, 'POST', base, { emoji: '👍' }))
  dataOf(await call(app, g.admin, 'POST', base, { emoji: '👨‍👩‍👧' }))
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.admin, 'DELETE', `${base}/%F0%9F%91%8D`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data.reactions, [
    { emoji: '👍', count: 1, users: [g.owner.user.id], hasReacted: false },
    { emoji: '👨‍👩‍👧', count: 1, users: [g.admin.user.id], hasReacted: true }
  ])
  t.equal(eventsOfType(events, 'chat:reactions_updated').length, 1)
  const family = await call(app, g.admin, 'DELETE', `${base}/${encodeURIComponent('👨‍👩‍👧')}`)
  t.same(family.json().data.reactions, [{ emoji: '👍', count: 1, users: [g.owner.user.id], hasReacted: false }])
  const missing = await call(app, g.admin, 'DELETE', `${base}/${encodeURIComponent('🎉')}`)
  t.equal(missing.statusCode, 200, 'removing a reaction you do not have is a no-op')
  t.equal(eventsOfType(events, 'chat:reactions_updated').length, 2)
})

t.test('listing reactions is relative to the caller', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hi')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  dataOf(await call(app, g.admin, 'POST', url, { emoji: '🔥' }))
  t.same(dataOf<Reactions>(await call(app, g.admin, 'GET', url)).reactions, [{ emoji: '🔥', count: 1, users: [g.admin.user.id], hasReacted: true }])
  t.same(dataOf<Reactions>(await call(app, g.owner, 'GET', url)).reactions, [{ emoji: '🔥', count: 1, users: [g.admin.user.id], hasReacted: false }])
  const empty = await sendMessage(app, g.owner, g.groupId, 'no reactions')
  t.same(dataOf<Reactions>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${empty.id}/reactions`)).reactions, [])
})

t.test('an emoji must be 1 to 32 characters without spaces', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hi')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  for (const emoji of ['', 'x'.repeat(33), 'two words', ' ', 'tab\t']) {
    const res = await call(app, g.admin, 'POST', url, { emoji })
    t.equal(res.statusCode, 400, JSON.stringify(emoji))
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'emoji' }] })
  }
  t.equal((await call(app, g.admin, 'POST', url, {})).statusCode, 400)
  t.equal((await call(app, g.admin, 'POST', url, { emoji: '🎉'.repeat(32) })).statusCode, 200, '32 characters of 4 bytes each')
  const removed = await call(app, g.admin, 'DELETE', `${url}/${encodeURIComponent('🎉'.repeat(32))}`)
  t.equal(removed.statusCode, 200, 'and removed through a 384-character encoded path segment')
  t.same(removed.json().data.reactions, [])
  const tooLong = await call(app, g.admin, 'DELETE', `${url}/${encodeURIComponent('🎉'.repeat(33))}`)
  t.equal(tooLong.statusCode, 400)
  t.match(tooLong.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'emoji' }] })
})

t.test('a user adds at most 20 different reactions to one message', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hi')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  for (let i = 0; i < 20; i++) dataOf(await call(app, g.admin, 'POST', url, { emoji: `e${i}` }))
  const over = await call(app, g.admin, 'POST', url, { emoji: 'e20' })
  t.equal(over.statusCode, 400)
  t.equal((await call(app, g.admin, 'POST', url, { emoji: 'e3' })).statusCode, 200, 'repeating one you have is still a no-op')
})

t.test('reactions to a deleted, unknown or foreign message are not found', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const deleted = await sendMessage(app, g.owner, g.groupId, 'gone')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${deleted.id}`))
  const foreign = await sendMessage(app, other.owner, other.groupId, 'theirs')
  for (const id of [deleted.id, foreign.id, '01890a5d-ac96-774b-bcce-b302099a8057']) {
    t.equal((await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${id}/reactions`, { emoji: '👍' })).statusCode, 404)
  }
  t.equal((await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${foreign.id}/reactions`)).statusCode, 404)
  t.equal((await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${foreign.id}/reactions/%F0%9F%91%8D`)).statusCode, 404)
})
