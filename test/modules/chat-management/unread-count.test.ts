import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { PoolConnection } from 'mysql2'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { call, createGroup, dataOf, sendMessage } from '../../helpers/api.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })

/**
 * Counts the statements the app's Kysely pool runs while `work` runs: every connection the pool
 * hands out has its query method wrapped (once).
 */
async function countQueries<T> (app: FastifyInstance, work: () => Promise<T>): Promise<{ result: T, queries: number }> {
  let queries = 0
  const wrapped = new WeakSet<PoolConnection>()
  const pool = app.queryPool
  const original = pool.getConnection.bind(pool)
  pool.getConnection = ((callback: (err: NodeJS.ErrnoException | null, connection: PoolConnection) => void) => {
    original((err, connection) => {
      if (err === null && !wrapped.has(connection)) {
        wrapped.add(connection)
        const query = connection.query.bind(connection) as (...args: unknown[]) => unknown
        connection.query = ((...args: unknown[]) => { queries += 1; return query(...args) }) as typeof connection.query
      }
      callback(err, connection)
    })
  }) as typeof pool.getConnection
  try {
    return { result: await work(), queries }
  } finally {
    pool.getConnection = original
  }
}

t.test('100 chats with unread messages: exact counts in one query', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const expected = new Map<string, number>()
  for (let i = 0; i < 100; i++) {
    const groupId = await createGroup(app, bob, [alice])
    const sent = i % 3 + 1
    const messages = []
    for (let m = 0; m < sent; m++) messages.push(await sendMessage(app, bob, groupId, `note ${m}`))
    await sendMessage(app, alice, groupId, 'mine, never unread')
    // Some chats are partly read, some have a deleted message, one in ten is marked unread.
    let unread = sent
    if (i % 4 === 0 && sent > 1) {
      dataOf(await call(app, alice, 'POST', `/groups/${groupId}/chat/read`, { messageId: messages[0]?.id }))
      unread -= 1
    }
    if (i % 5 === 0) {
      dataOf(await call(app, bob, 'DELETE', `/groups/${groupId}/chat/messages/${messages.at(-1)?.id}`))
      unread -= 1
    }
    if (i % 10 === 1) {
      dataOf(await call(app, alice, 'PUT', `/groups/${groupId}/chat/read-status`, { isRead: true }))
      dataOf(await call(app, alice, 'PUT', `/groups/${groupId}/chat/read-status`, { isRead: false }))
      unread = 1
    }
    if (unread > 0) expected.set(groupId, unread)
  }
  const { result, queries } = await countQueries(app, async () => await app.chatManagement.unreadCounts(alice.user.id, false))
  t.equal(queries, 1, 'one query for every chat')
  const total = [...expected.values()].reduce((sum, n) => sum + n, 0)
  t.equal(result.totalUnread, total)
  t.same(new Map(result.groups.map((g) => [g.groupId, g.unreadCount])), expected, 'every chat exact')
  const viaRest = dataOf<{ totalUnread: number, groups: Array<{ groupId: string, lastMessageTimestamp: string }> }>(await call(app, alice, 'GET', '/chat/unread-count'))
  t.equal(viaRest.totalUnread, total)
  const times = viaRest.groups.map((g) => g.lastMessageTimestamp)
  t.same(times, [...times].sort().reverse(), 'most recent first')
  t.equal((dataOf<{ totalUnread: number }>(await call(app, bob, 'GET', '/chat/unread-count'))).totalUnread, 100, 'Bob\'s counts are his own: Alice\'s one message in each')
})

t.test('one chat\'s count, and only for a member', async (t) => {
  const [alice, bob, eve] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  const first = await sendMessage(app, bob, groupId, 'one')
  await sendMessage(app, bob, groupId, 'two')
  dataOf(await call(app, alice, 'POST', `/groups/${groupId}/chat/read`, { messageId: first.id }))
  t.same(dataOf(await call(app, alice, 'GET', `/chat/unread-count?groupId=${groupId}`)), { groupId, unreadCount: 1, lastReadMessageId: first.id })
  t.equal((await call(app, eve, 'GET', `/chat/unread-count?groupId=${groupId}`)).statusCode, 404)
})

t.test('several chats marked read or unread at once; all must be mine, at most 100', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const mine = [await createGroup(app, bob, [alice]), await createGroup(app, bob, [alice]), await createGroup(app, bob, [alice])]
  for (const groupId of mine) await sendMessage(app, bob, groupId, 'unread')
  const notMine = await createGroup(app, bob, [])
  const counts = async (): Promise<number> => (dataOf<{ totalUnread: number }>(await call(app, alice, 'GET', '/chat/unread-count'))).totalUnread

  const refused = await call(app, alice, 'PUT', '/chat/read-status', { groupIds: [...mine, notMine], isRead: true })
  t.equal(refused.statusCode, 404)
  t.same(refused.json().details, { groupIds: [notMine] })
  t.equal(await counts(), 3, 'nothing changed')
  t.equal((await call(app, alice, 'PUT', '/chat/read-status', { groupIds: Array(101).fill(mine[0]), isRead: true })).statusCode, 400)

  const read = dataOf<{ groups: Array<{ groupId: string, unreadCount: number }> }>(await call(app, alice, 'PUT', '/chat/read-status', { groupIds: mine.slice(0, 2), isRead: true }))
  t.same(read.groups.map((g) => [g.groupId, g.unreadCount]), [[mine[0], 0], [mine[1], 0]])
  t.equal(await counts(), 1)
  dataOf(await call(app, alice, 'PUT', '/chat/read-status', { groupIds: mine, isRead: false }))
  t.equal(await counts(), 3, 'marked unread: at least one each')
  t.equal((dataOf<{ totalUnread: number }>(await call(app, bob, 'GET', '/chat/unread-count'))).totalUnread, 0, 'Bob\'s counts are his own')
})
