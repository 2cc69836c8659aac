import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import type { ChatMessage, ForwardMessageResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, createDirectChat, createGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

// Issue 11 point 6. The send limit is seed 01's (30 a minute): each test uses fresh users.
const app = await buildTestApp(t, import.meta.url)

async function forward (who: TestUser, g: ChatGroup | string, messageId: string, body: Record<string, unknown>) {
  const groupId = typeof g === 'string' ? g : g.groupId
  return await call(app, who, 'POST', `/groups/${groupId}/chat/messages/${messageId}/forward`, body)
}

/** A group owned by `who` with `members` in it. */
async function groupOf (who: TestUser, members: TestUser[] = [], type: 'group' | 'broadcast' = 'group'): Promise<string> {
  return await createGroup(app, who, members, { name: 'Target', type })
}

async function messageAs (who: TestUser, groupId: string, id: string): Promise<ChatMessage> {
  return dataOf<{ message: ChatMessage }>(await call(app, who, 'GET', `/groups/${groupId}/chat/messages/${id}`)).message
}

t.test('a forward sends a copy by the caller into each target, with forwardedFrom, and counts it on the original', async (t) => {
  const g = await createChatGroup(app)
  const [alice] = g.members as [TestUser]
  const original = await sendMessage(app, g.owner, g.groupId, { content: 'the **plan** for Friday', metadata: { formatting: { bold: [[4, 12]] } } })
  const first = await groupOf(alice, [g.admin])
  const second = await groupOf(alice)
  const events = recordEvents(app, { groupId: first }, t)
  const res = await forward(alice, g, original.id, { targetGroupIds: [first, second] })
  t.equal(res.statusCode, 200)
  const data = res.json().data as ForwardMessageResponse
  t.equal(data.originalMessageId, original.id)
  t.equal(data.forwardedCount, 2)
  t.same(data.results.map((r) => [r.groupId, r.success]), [[first, true], [second, true]])
  const copy = data.results[0]?.message as ChatMessage
  t.match(copy, {
    groupId: first,
    senderUserId: alice.user.id,
    content: 'the **plan** for Friday',
    contentType: 'text',
    forwardedCount: 0,
    seq: 1,
    metadata: { forwardedFrom: { messageId: original.id, groupId: g.groupId, senderUserId: g.owner.user.id }, formatting: { bold: [[4, 12]] } }
  })
  t.same(eventsOfType(events, 'chat:message').map((e) => [e.payload.id, e.payload.metadata.forwardedFrom?.messageId]), [[copy.id, original.id]], 'the target group hears of the copy like any send')
  t.equal((await messageAs(g.admin, first, copy.id)).metadata?.forwardedFrom?.senderUserId, g.owner.user.id, 'stored sealed with the copy')
  t.equal((await messageAs(g.owner, g.groupId, original.id)).forwardedCount, 2, 'the original counts its forwards')
  const found = dataOf<{ messages: ChatMessage[] }>(await call(app, g.admin, 'GET', `/groups/${first}/chat/search?q=plan`)).messages
  t.same(found.map((m) => m.id), [copy.id], 'the copy is in the target\'s search index')
})

t.test('each target succeeds or fails on its own: not a member, broadcast without admin, blocked direct chat', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  const original = await sendMessage(app, g.owner, g.groupId, 'pass it on')
  const mine = await groupOf(alice)
  const notMine = await groupOf(g.outsider)
  const broadcast = await groupOf(g.owner, [alice], 'broadcast')
  const direct = await createDirectChat(app, alice, bob)
  dataOf(await call(app, bob, 'POST', `/users/${alice.user.id}/block`))
  const res = await forward(alice, g, original.id, { targetGroupIds: [mine, notMine, broadcast, direct] })
  t.equal(res.statusCode, 200)
  const data = res.json().data as ForwardMessageResponse
  t.same(data.results.map((r) => [r.groupId, r.success, r.error?.code]), [
    [mine, true, undefined],
    [notMine, false, 'NOT_FOUND'],
    [broadcast, false, 'FORBIDDEN'],
    [direct, false, 'FORBIDDEN']
  ])
  t.equal(data.forwardedCount, 1, 'only the copy made counts')
  const inBroadcast = dataOf<{ messages: ChatMessage[] }>(await call(app, g.owner, 'GET', `/groups/${broadcast}/chat/messages`)).messages
  t.same(inBroadcast, [], 'nothing was stored where the caller may not post')
})

t.test('a forward retried with the same clientMessageId answers the same copies and counts them once', async (t) => {
  const g = await createChatGroup(app)
  const [alice] = g.members as [TestUser]
  const original = await sendMessage(app, g.owner, g.groupId, 'worth sharing')
  const target = await groupOf(alice)
  const body = { targetGroupIds: [target], clientMessageId: 'fwd-request-1' }
  const first = dataOf<ForwardMessageResponse>(await forward(alice, g, original.id, body))
  const retry = dataOf<ForwardMessageResponse>(await forward(alice, g, original.id, body))
  t.equal(retry.results[0]?.message?.id, first.results[0]?.message?.id, 'the same copy')
  t.equal(retry.forwardedCount, 1)
  const page = dataOf<{ messages: ChatMessage[] }>(await call(app, alice, 'GET', `/groups/${target}/chat/messages`)).messages
  t.equal(page.length, 1, 'one copy stored')
  t.not(page[0]?.clientMessageId, 'fwd-request-1', 'the copy\'s id is derived per target, never the request\'s own')
  const again = dataOf<ForwardMessageResponse>(await forward(alice, g, original.id, { ...body, clientMessageId: 'fwd-request-2' }))
  t.match(again.results, [{ groupId: target, success: false, error: { code: 'SPAM_DETECTED' } }], 'another request is a new send: the spam rules judge it (here, a duplicate within 5 s)')
  t.equal(again.forwardedCount, 1)
})

t.test('the source must be a message the caller is shown: deleted, cleared for them or from someone they blocked is 404', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  const target = await groupOf(alice)
  const deleted = await sendMessage(app, g.owner, g.groupId, 'gone soon')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${deleted.id}`))
  t.equal((await forward(alice, g, deleted.id, { targetGroupIds: [target] })).statusCode, 404, 'deleted')
  const cleared = await sendMessage(app, g.owner, g.groupId, 'cleared for alice')
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: cleared.seq as number })
    .where('user_id', '=', alice.user.id).where('group_id', '=', Buffer.from(g.groupId.replaceAll('-', ''), 'hex')).execute()
  t.equal((await forward(alice, g, cleared.id, { targetGroupIds: [target] })).statusCode, 404, 'cleared for the caller')
  t.equal((await forward(bob, g, cleared.id, { targetGroupIds: [await groupOf(bob)] })).statusCode, 200, 'another member still forwards it')
  const fromBlocked = await sendMessage(app, g.admin, g.groupId, 'from someone alice blocked')
  dataOf(await call(app, alice, 'POST', `/users/${g.admin.user.id}/block`))
  t.equal((await forward(alice, g, fromBlocked.id, { targetGroupIds: [target] })).statusCode, 404, 'from a sender the caller blocked')
  t.equal((await forward(g.outsider, g, fromBlocked.id, { targetGroupIds: [target] })).statusCode, 403, 'a non-member of the source group')
})

t.test('forwardedFrom is the server\'s: a client cannot set it on a send', async (t) => {
  const g = await createChatGroup(app)
  const forged = await sendMessage(app, g.owner, g.groupId, {
    content: 'totally forwarded',
    metadata: { forwardedFrom: { messageId: '00000000-0000-7000-8000-000000000000', groupId: g.groupId, senderUserId: g.admin.user.id } }
  })
  t.same(forged.metadata, {})
  t.equal((await messageAs(g.owner, g.groupId, forged.id)).metadata?.forwardedFrom, undefined)
})

t.test('targets are 1 to 10 groups', async (t) => {
  const g = await createChatGroup(app)
  const original = await sendMessage(app, g.owner, g.groupId, 'bounded')
  t.equal((await forward(g.owner, g, original.id, { targetGroupIds: [] })).statusCode, 400)
  const eleven = Array.from({ length: 11 }, () => g.groupId)
  t.equal((await forward(g.owner, g, original.id, { targetGroupIds: eleven })).statusCode, 400)
})

t.test('every target counts as a send against the send rate limit', async (t) => {
  const sender = await registerUser(app)
  const source = await groupOf(sender)
  // Three texts, so that no copy is a duplicate of another in its group.
  const originals = [await sendMessage(app, sender, source, 'spread the word'), await sendMessage(app, sender, source, 'and this one'), await sendMessage(app, sender, source, 'last one')]
  const targets: string[] = []
  for (let i = 0; i < 10; i++) targets.push(await groupOf(sender))
  // 3 sends + 2 forwards to 10 groups = 23 of the 30 sends a minute.
  for (let i = 0; i < 2; i++) {
    const data = dataOf<ForwardMessageResponse>(await forward(sender, source, originals[i]?.id as string, { targetGroupIds: targets }))
    t.ok(data.results.every((r) => r.success), `forward ${i + 1} fully made`)
  }
  const third = dataOf<ForwardMessageResponse>(await forward(sender, source, originals[2]?.id as string, { targetGroupIds: targets }))
  t.same(third.results.map((r) => r.success), [true, true, true, true, true, true, true, false, false, false], 'the 31st send of the minute is refused')
  t.same(third.results.slice(7).map((r) => r.error?.code), ['RATE_LIMIT_EXCEEDED', 'RATE_LIMIT_EXCEEDED', 'RATE_LIMIT_EXCEEDED'])
  t.equal(third.forwardedCount, 7)
  const send = await call(app, sender, 'POST', `/groups/${source}/chat/messages`, { content: 'one more' })
  t.equal(send.statusCode, 429, 'a plain send shares the same budget')
})
