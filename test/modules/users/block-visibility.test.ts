import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import type { TestUser } from '../../helpers/users.ts'
import type { BlockedUser } from '../../../schemas/users.ts'
import type { ChatMessage, GetMessagesResponse, PinnedMessagesResponse, SearchMessagesResponse } from '../../../schemas/chat.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

// Issue 11 point 9 over REST: a block keeps its reason for the blocker, and hides the blocked
// user's messages from the blocker in groups (history, search, single reads, pins) while the
// other members see everything as before. Realtime: test/realtime/blocking.test.ts.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function blockedList (who: TestUser): Promise<BlockedUser[]> {
  return dataOf<{ users: BlockedUser[] }>(await call(app, who, 'GET', '/users/blocked')).users
}

async function history (g: ChatGroup, who: TestUser): Promise<string[]> {
  return dataOf<GetMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/messages`)).messages.map((m) => m.content)
}

async function searched (g: ChatGroup, who: TestUser, q: string): Promise<string[]> {
  return dataOf<SearchMessagesResponse>(await call(app, who, 'GET', `/groups/${g.groupId}/chat/search?q=${q}`)).messages.map((m) => m.content)
}

t.test('the blocked list shows the reason given and when; a new reason replaces it, none keeps it', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: '  Spam  ' }))
  const [entry] = await blockedList(alice)
  t.match(entry, { id: bob.user.id, username: bob.user.username, reason: 'Spam' })
  t.ok(Date.parse(entry?.blockedAt ?? '') > 0, 'blockedAt is a time')
  t.notOk('email' in (entry ?? {}), 'never an email')
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`))
  t.equal((await blockedList(alice))[0]?.reason, 'Spam', 'a block without a reason keeps the old one')
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: 'Harassment' }))
  t.equal((await blockedList(alice))[0]?.reason, 'Harassment')
  dataOf(await call(app, alice, 'POST', `/users/${g.admin.user.id}/block`))
  t.same((await blockedList(alice)).map((u) => [u.id, u.reason]), [[g.admin.user.id, null], [bob.user.id, 'Harassment']])
  t.same(await blockedList(bob), [], 'the blocked user sees nothing of it')
})

t.test('a block reason is bounded to 500 characters', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  const res = await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: 'x'.repeat(501) })
  t.equal(res.statusCode, 400)
  t.same(await blockedList(alice), [], 'nothing stored')
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: 'x'.repeat(500) }))
  t.equal((await blockedList(alice))[0]?.reason?.length, 500)
})

t.test('in a group the blocker no longer sees the blocked user\'s messages; the other members see everything', async (t) => {
  const g = await createChatGroup(app)
  const [alice, bob] = g.members as [TestUser, TestUser]
  await sendMessage(app, g.owner, g.groupId, 'hello team')
  const spam = await sendMessage(app, bob, g.groupId, 'hello buy my stuff')
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${spam.id}/pin`))
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: 'Spam' }))
  await sendMessage(app, bob, g.groupId, 'hello again, still selling')

  t.same(await history(g, alice), ['hello team'], 'alice\'s history')
  t.same(await searched(g, alice, 'hello'), ['hello team'], 'alice\'s search')
  t.equal((await call(app, alice, 'GET', `/groups/${g.groupId}/chat/messages/${spam.id}`)).statusCode, 404, 'alice cannot open it')
  t.same(dataOf<PinnedMessagesResponse>(await call(app, alice, 'GET', `/groups/${g.groupId}/chat/pinned`)).count, 0, 'nor see it pinned')

  t.same(await history(g, g.admin), ['hello again, still selling', 'hello buy my stuff', 'hello team'], 'the admin\'s history is whole')
  t.same(await searched(g, g.admin, 'hello'), ['hello again, still selling', 'hello buy my stuff', 'hello team'])
  t.equal(dataOf<{ message: ChatMessage }>(await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${spam.id}`)).message.id, spam.id)
  t.same(await history(g, bob), ['hello again, still selling', 'hello buy my stuff', 'hello team'], 'the blocked user sees their own as before')

  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/unblock`))
  t.same(await history(g, alice), ['hello again, still selling', 'hello buy my stuff', 'hello team'], 'unblocking shows them again')
})
