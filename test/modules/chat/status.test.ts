import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { connectWs } from '../../helpers/ws.ts'
import type { ChatMessage, GetMessagesResponse, SearchMessagesResponse } from '../../../schemas/chat.ts'
import type { TestUser } from '../../helpers/users.ts'
import { until } from '../../helpers/wait.ts'

// Seed 01 §6.1 MessageStatus: a message is `sent` once the server has it and `delivered` once
// it reached a recipient, which the delivered watermarks of the other members record.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function history (g: ChatGroup, who: TestUser = g.owner): Promise<ChatMessage[]> {
  return dataOf<GetMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/messages`)).messages
}

const statusBySeq = (messages: ChatMessage[]): Record<number, string> =>
  Object.fromEntries(messages.map((m) => [m.seq as number, m.status]))

t.test('a message is sent until another member\'s delivered watermark reaches it, then delivered, in history, getMessage and search', async (t) => {
  const g = await createChatGroup(app)
  const m1 = await sendMessage(app, g.owner, g.groupId, 'first words')
  await sendMessage(app, g.owner, g.groupId, 'second words')
  t.same(statusBySeq(await history(g)), { 1: 'sent', 2: 'sent' })

  await app.chatService.markDelivered(g.members[0]!.user.id, g.groupId, 1)
  t.same(statusBySeq(await history(g)), { 1: 'delivered', 2: 'sent' })
  t.same(statusBySeq(await history(g, g.admin)), { 1: 'delivered', 2: 'sent' }, 'whoever looks')
  const one = dataOf<{ message: ChatMessage }>(await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${m1.id}`)).message
  t.equal(one.status, 'delivered')
  const found = dataOf<SearchMessagesResponse>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/search?q=words`)).messages
  t.same(statusBySeq(found), { 1: 'delivered', 2: 'sent' })
  t.same(one.readBy, [], 'delivered is not read: readBy stays empty')
})

t.test('the sender\'s own delivered watermark does not make its messages delivered', async (t) => {
  const g = await createChatGroup(app)
  await sendMessage(app, g.owner, g.groupId, 'from the owner')
  await sendMessage(app, g.admin, g.groupId, 'from the admin')
  await app.chatService.markDelivered(g.owner.user.id, g.groupId, 2)
  t.same(statusBySeq(await history(g)), { 1: 'sent', 2: 'delivered' }, 'only the admin\'s message reached someone else')
})

t.test('a message a member\'s connection receives becomes delivered', async (t) => {
  const g = await createChatGroup(app)
  const member = g.members[0]!
  const ws = await connectWs(app, { token: member.token })
  t.teardown(async () => { await ws.close() })
  await ws.next('chat:sync')
  t.equal((await ws.request('chat:join_group', { groupId: g.groupId })).type, 'chat:ack')
  const m = await sendMessage(app, g.owner, g.groupId, 'to a live connection')
  t.equal(m.status, 'sent', 'the send answer: nobody had it yet')
  await ws.next('chat:message', (f) => f.payload.id === m.id)
  // The delivered watermark is written a moment after the frame went out.
  await until(async () => (await history(g))[0]?.status === 'delivered', { timeoutMs: 5000 })
  t.equal((await history(g))[0]?.status, 'delivered')
})

t.test('a message read by another member is delivered too, and shows the reader in readBy', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'read over REST')
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: m.id }))
  const one = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message
  t.equal(one.status, 'delivered')
  t.same(one.readBy, [g.admin.user.id])
})

t.test('a retried send answers the original message with its status now', async (t) => {
  const g = await createChatGroup(app)
  const first = await sendMessage(app, g.owner, g.groupId, { content: 'once', clientMessageId: 'status-retry' })
  await app.chatService.markDelivered(g.admin.user.id, g.groupId, first.seq as number)
  const retry = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'once', clientMessageId: 'status-retry' })
  t.equal(retry.statusCode, 201)
  t.match(retry.json().data.message, { id: first.id, status: 'delivered' })
})
