import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { createDatabase } from '../../../db/connection.ts'
import { chatRepository } from '../../../src/modules/chat/repository.ts'
import { call, createGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { connected } from '../../helpers/ws.ts'

// Issue 16.5: unread counts by seq arithmetic (chat-state-sql.ts unreadCountOf) give what a
// row-by-row count gives, on every surface, in the cases where the arithmetic has exceptions.

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '1000' } })

/** The unread count as the definition says it, row by row: what the code counted before. */
async function bruteForce (userId: number, groupId: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`
    SELECT GREATEST((SELECT COUNT(*) FROM mirror_group_messages AS x WHERE x.group_id = mb.group_id
      AND x.seq > GREATEST(mb.last_read_seq, mb.cleared_seq) AND x.sender_user_id <> mb.user_id AND x.is_deleted = 0
      AND NOT EXISTS (SELECT 1 FROM user_blocks AS b WHERE b.blocker_id = mb.user_id AND b.blocked_id = x.sender_user_id)), mb.marked_unread) AS n
    FROM mirror_group_members AS mb WHERE mb.user_id = ${userId} AND mb.group_id = UNHEX(REPLACE(${groupId}, '-', ''))`.execute(app.db)
  return Number(rows[0]?.n ?? -1)
}

/** The count on every surface: chat list, unread totals, one chat's count, chat:sync. */
async function surfaces (user: TestUser, groupId: string): Promise<Record<string, number | null>> {
  const { groups } = dataOf<{ groups: Array<{ id: string, unreadCount: number }> }>(await call(app, user, 'GET', '/groups?limit=100'))
  const all = dataOf<{ groups: Array<{ groupId: string, unreadCount: number }> }>(await call(app, user, 'GET', '/chat/unread-count'))
  const single = dataOf<{ unreadCount: number }>(await call(app, user, 'GET', `/chat/unread-count?groupId=${groupId}`))
  const client = await connected(app, user)
  await client.close()
  const synced = (client.sync.payload.groups as Array<{ groupId: string, unreadCount: number }>).find((g) => g.groupId === groupId)
  return {
    list: groups.find((g) => g.id === groupId)?.unreadCount ?? null,
    total: all.groups.find((g) => g.groupId === groupId)?.unreadCount ?? 0,
    single: single.unreadCount,
    sync: synced?.unreadCount ?? null
  }
}

async function agrees (tt: Test, user: TestUser, groupId: string, expected: number): Promise<void> {
  const counted = await bruteForce(user.user.id, groupId)
  tt.equal(counted, expected, 'the row-by-row count is the expected one')
  tt.same(await surfaces(user, groupId), { list: counted, total: counted, single: counted, sync: counted }, 'every surface agrees with it')
}

const read = async (user: TestUser, groupId: string, messageId: string): Promise<void> => {
  dataOf(await call(app, user, 'POST', `/groups/${groupId}/chat/read`, { messageId }))
}
const remove = async (user: TestUser, groupId: string, messageId: string): Promise<void> => {
  dataOf(await call(app, user, 'DELETE', `/groups/${groupId}/chat/messages/${messageId}`))
}

t.test('own messages after the watermark are not unread, however they interleave', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  const first = await sendMessage(app, bob, groupId, 'one')
  await sendMessage(app, bob, groupId, 'two')
  await read(alice, groupId, first.id)
  for (const [i, who] of [alice, bob, alice, alice, bob, bob].entries()) await sendMessage(app, who, groupId, `interleaved ${i}`)
  await agrees(t, alice, groupId, 4)
  await agrees(t, bob, groupId, 3)
})

t.test('deleted messages after the watermark are not unread, and deleted ones before it change nothing', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  const old = await sendMessage(app, bob, groupId, 'read and then deleted')
  await read(alice, groupId, old.id)
  const sent = []
  for (let i = 0; i < 5; i++) sent.push(await sendMessage(app, bob, groupId, `after ${i}`))
  const mine = await sendMessage(app, alice, groupId, 'mine, then deleted')
  await remove(bob, groupId, old.id)
  await remove(bob, groupId, sent[1]?.id as string)
  await remove(bob, groupId, sent[4]?.id as string)
  await remove(alice, groupId, mine.id)
  await agrees(t, alice, groupId, 3)
})

t.test('a blocked sender\'s messages are not unread for the blocker (history hides them too), and are for others', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice, carol])
  await sendMessage(app, bob, groupId, 'from bob')
  dataOf(await call(app, alice, 'POST', `/users/${carol.user.id}/block`))
  const carols = [await sendMessage(app, carol, groupId, 'from carol'), await sendMessage(app, carol, groupId, 'carol again')]
  await remove(carol, groupId, carols[0]?.id as string)
  await sendMessage(app, alice, groupId, 'from alice')
  await agrees(t, alice, groupId, 1)
  const history = dataOf<{ messages: Array<{ senderUserId: number }> }>(await call(app, alice, 'GET', `/groups/${groupId}/chat/messages`))
  t.notOk(history.messages.some((message) => message.senderUserId === carol.user.id), 'the blocker\'s history shows none of them either')
  await agrees(t, bob, groupId, 2)
  dataOf(await call(app, alice, 'POST', `/users/${carol.user.id}/unblock`))
  await agrees(t, alice, groupId, 2)
})

t.test('cleared history: the clear watermark bounds the count, for me and for everyone', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  for (let i = 0; i < 4; i++) await sendMessage(app, bob, groupId, `before ${i}`)
  dataOf(await call(app, alice, 'DELETE', `/groups/${groupId}/chat/messages`))
  await agrees(t, alice, groupId, 0)
  const after = [await sendMessage(app, bob, groupId, 'after one'), await sendMessage(app, bob, groupId, 'after two')]
  await sendMessage(app, alice, groupId, 'mine after the clear')
  await remove(bob, groupId, after[0]?.id as string)
  await agrees(t, alice, groupId, 1)
  dataOf(await call(app, bob, 'DELETE', `/groups/${groupId}/chat/messages?forEveryone=true`))
  await agrees(t, alice, groupId, 0)
  await sendMessage(app, bob, groupId, 'after everyone\'s clear')
  await agrees(t, alice, groupId, 1)
})

t.test('marked unread by hand: at least one, the real count when higher, zero once read', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  const last = await sendMessage(app, bob, groupId, 'read')
  await read(alice, groupId, last.id)
  dataOf(await call(app, alice, 'PUT', `/groups/${groupId}/chat/read-status`, { isRead: false }))
  await agrees(t, alice, groupId, 1)
  for (let i = 0; i < 3; i++) await sendMessage(app, bob, groupId, `more ${i}`)
  await agrees(t, alice, groupId, 3)
  dataOf(await call(app, alice, 'PUT', `/groups/${groupId}/chat/read-status`, { isRead: true }))
  await agrees(t, alice, groupId, 0)
})

t.test('a member\'s unread count does not read the unread messages of others', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice])
  const groupBin = Buffer.from(groupId.replace(/-/g, ''), 'hex')
  // Bulk rows as a send stores them: the next seqs, the group's counter moved with them.
  const bulk = Array.from({ length: 2000 }, (_, i) => sql`(UNHEX(MD5(${`${groupId}/${i + 1}`})), ${groupBin}, ${i + 1}, ${bob.user.id}, 'x', 1)`)
  await sql`INSERT INTO mirror_group_messages (id, group_id, seq, sender_user_id, content, content_key_version) VALUES ${sql.join(bulk)}`.execute(app.db)
  await sql`UPDATE mirror_groups SET last_seq = 2000 WHERE id = ${groupBin}`.execute(app.db)
  t.equal(await bruteForce(alice.user.id, groupId), 2000)

  // One connection, so the session's handler counters are those of the query alone.
  const single = createDatabase(app.config.databaseUrl, 1)
  t.teardown(async () => { await single.db.destroy() })
  await sql`FLUSH STATUS`.execute(single.db)
  const [summary] = await chatRepository(single.db).summaries(alice.user.id, [groupBin])
  const { rows } = await sql<{ Value: string }>`SHOW SESSION STATUS LIKE 'Handler_read_next'`.execute(single.db)
  t.equal(Number(summary?.unread), 2000)
  t.ok(Number(rows[0]?.Value) < 100, `index entries read: ${rows[0]?.Value}`)
})

t.test('the chat list previews the newest message the user can see: not one from a sender they blocked', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, bob, [alice, carol])
  const lastOf = async (user: TestUser): Promise<{ id: string, senderUserId: number } | null> => {
    const { groups } = dataOf<{ groups: Array<{ id: string, lastMessage: { id: string, senderUserId: number } | null }> }>(await call(app, user, 'GET', '/groups?limit=100'))
    return groups.find((g) => g.id === groupId)?.lastMessage ?? null
  }
  dataOf(await call(app, alice, 'POST', `/users/${carol.user.id}/block`))
  await sendMessage(app, carol, groupId, 'carol first, before anyone')
  t.equal(await lastOf(alice), null, 'nothing to show while every message is the blocked sender\'s')
  const fromBob = await sendMessage(app, bob, groupId, 'from bob')
  const fromCarol = await sendMessage(app, carol, groupId, 'from carol')
  t.match(await lastOf(alice), { id: fromBob.id, senderUserId: bob.user.id }, 'the blocker sees Bob\'s message as the newest')
  t.match(await lastOf(bob), { id: fromCarol.id, senderUserId: carol.user.id }, 'everyone else sees Carol\'s')
  dataOf(await call(app, alice, 'POST', `/users/${carol.user.id}/unblock`))
  t.match(await lastOf(alice), { id: fromCarol.id }, 'unblocked: Carol\'s again')
})
