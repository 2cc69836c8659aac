import { AsyncLocalStorage } from 'node:async_hooks'
import t from 'tap'
import type { PoolConnection } from 'mysql2'
import type { ChatMessage, GetMessagesResponse } from '../../../schemas/chat.ts'
import type { Caller } from '../../../src/modules/membership/guard.ts'
import { buildTestApp } from '../../helpers/app.ts'
import type { TestUser } from '../../helpers/users.ts'
import { uploaded } from '../../helpers/attachments.ts'
import { call, createChatGroup, dataOf, sendMessage, type ChatGroup } from '../../helpers/api.ts'

/*
 * A page of history is one statement (issue 16.5): the delivered status, the replies quoting a
 * message cleared for the reader and whether attachments exist are columns of the page's own
 * query. These pin that, and that the page shows exactly what one message read on its own shows.
 */

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })

/**
 * Statements run on the app's Kysely pool on behalf of `work` (its async context: the
 * notification worker or a watermark flush running meanwhile is not counted). Each pooled
 * connection's query method is wrapped once.
 */
const counted = new AsyncLocalStorage<{ statements: number }>()
const wrapped = new WeakSet<PoolConnection>()
const pool = app.queryPool
const getConnection = pool.getConnection.bind(pool)
pool.getConnection = ((callback: (err: NodeJS.ErrnoException | null, connection: PoolConnection) => void) => {
  getConnection((err, connection) => {
    if (err === null && !wrapped.has(connection)) {
      wrapped.add(connection)
      const query = connection.query.bind(connection) as (...args: unknown[]) => unknown
      connection.query = ((...args: unknown[]) => {
        const window = counted.getStore()
        if (window !== undefined) window.statements += 1
        return query(...args)
      }) as typeof connection.query
    }
    callback(err, connection)
  })
}) as typeof pool.getConnection

async function statementsOf<T> (work: () => Promise<T>): Promise<{ result: T, statements: number }> {
  const window = { statements: 0 }
  const result = await counted.run(window, work)
  return { result, statements: window.statements }
}

async function callerOf (g: ChatGroup, who: TestUser): Promise<Caller> {
  const membership = await app.groupService.getMembership(g.groupId, who.user.id)
  if (membership === null) throw new Error('not a member')
  return { user: { id: who.user.id, username: who.user.username, email: who.user.email, sessionId: 'test', external: false }, membership }
}

t.test('a page of history is one statement when it has no attachments and neither reactions nor readers are asked for', async (t) => {
  const g = await createChatGroup(app)
  const [bob] = g.members as [TestUser]
  const first = await sendMessage(app, g.owner, g.groupId, 'first')
  await sendMessage(app, bob, g.groupId, { content: 'a reply', parentMessageId: first.id })
  for (let i = 0; i < 20; i++) await sendMessage(app, i % 2 === 0 ? g.owner : bob, g.groupId, `message ${i}`)
  dataOf(await call(app, bob, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: first.id }))
  const caller = await callerOf(g, g.owner)
  const { result, statements } = await statementsOf(async () => await app.chatService.listMessages(caller, { limit: 50 }))
  t.equal(result.messages.length, 22)
  t.equal(statements, 1)
})

t.test('a page with attachments reads them in one more statement', async (t) => {
  const g = await createChatGroup(app)
  const file = await uploaded(app, g.owner, g.groupId, { name: 'notes.txt', content: Buffer.from('some notes\n') })
  await sendMessage(app, g.owner, g.groupId, { content: 'see the notes', attachmentIds: [file.id] })
  await sendMessage(app, g.owner, g.groupId, 'no file here')
  const caller = await callerOf(g, g.owner)
  const { result, statements } = await statementsOf(async () => await app.chatService.listMessages(caller, { limit: 50 }))
  t.equal(statements, 2)
  t.same(result.messages.map((m) => m.attachments?.map((a) => a.fileName)), [[], ['notes.txt']])
})

t.test('a page shows each message exactly as reading it alone does: status, cleared quotes, attachments, edits, deletions, reactions, readers', async (t) => {
  const g = await createChatGroup(app, { memberCount: 3 })
  const [bob, cyd, dee] = g.members as [TestUser, TestUser, TestUser]
  const quoted = await sendMessage(app, bob, g.groupId, 'the quoted one')
  const file = await uploaded(app, cyd, g.groupId, { name: 'plan.txt', content: Buffer.from('the plan\n') })
  const withFile = await sendMessage(app, cyd, g.groupId, { content: 'the plan attached', attachmentIds: [file.id] })
  const edited = await sendMessage(app, g.owner, g.groupId, 'to be edited')
  const deleted = await sendMessage(app, bob, g.groupId, 'to be deleted')
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${edited.id}`, { content: 'edited' }))
  dataOf(await call(app, bob, 'DELETE', `/groups/${g.groupId}/chat/messages/${deleted.id}`))
  dataOf(await call(app, g.admin, 'POST', `/groups/${g.groupId}/chat/messages/${withFile.id}/reactions`, { emoji: '👍' }))
  dataOf(await call(app, dee, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: withFile.id }))
  // dee clears her history, then a reply quoting a message she no longer has arrives.
  dataOf(await call(app, dee, 'DELETE', `/groups/${g.groupId}/chat/messages?forEveryone=false`))
  const preview = (of: ChatMessage): Record<string, unknown> => ({ replyPreview: { messageId: of.id, senderUsername: of.senderUsername, content: of.content } })
  await sendMessage(app, g.owner, g.groupId, { content: 'quoting the old one', parentMessageId: quoted.id, metadata: preview(quoted) })
  await sendMessage(app, bob, g.groupId, { content: 'quoting one more', parentMessageId: withFile.id, metadata: preview(withFile) })
  const last = await sendMessage(app, cyd, g.groupId, 'the newest')
  dataOf(await call(app, bob, 'POST', `/groups/${g.groupId}/chat/read`, { messageId: last.id }))
  dataOf(await call(app, dee, 'POST', `/users/${cyd.user.id}/block`))

  for (const reader of [g.owner, bob, dee]) {
    const page = dataOf<GetMessagesResponse>(await call(app, reader, 'GET', `/groups/${g.groupId}/chat/messages?includeReactions=true&includeReadBy=true`))
    t.ok(page.messages.length > 0)
    for (const message of page.messages) {
      const alone = dataOf<{ message: ChatMessage }>(await call(app, reader, 'GET', `/groups/${g.groupId}/chat/messages/${message.id}`)).message
      t.same(message, alone, `${reader.user.username}: ${message.content || '(deleted)'}`)
    }
  }
  const ownersPage = dataOf<GetMessagesResponse>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages`)).messages
  t.equal(ownersPage.find((m) => m.id === withFile.id)?.status, 'delivered', 'another member read it')
  t.equal(ownersPage.find((m) => m.id === last.id)?.status, 'delivered')
  const deesPage = dataOf<GetMessagesResponse>(await call(app, dee, 'GET', `/groups/${g.groupId}/chat/messages`)).messages
  t.equal(deesPage.find((m) => m.content === 'quoting the old one')?.metadata?.replyPreview, undefined, 'no preview of a message she cleared')
  t.ok(ownersPage.find((m) => m.content === 'quoting the old one')?.metadata?.replyPreview !== undefined, 'the others see the preview')
  t.notOk(deesPage.some((m) => m.senderUserId === cyd.user.id), 'a blocked sender is left out')
})
