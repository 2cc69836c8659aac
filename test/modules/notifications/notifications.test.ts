import t from 'tap'
import { sql } from 'kysely'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { createGroup, sendMessage } from '../../helpers/api.ts'
import { connected, connectWs, type Frame } from '../../helpers/ws.ts'
import { toBin } from '../../../src/lib/ids.ts'

// Two instances on one database and Redis: a notification reaches its recipient wherever they are connected.
const env = { NOTIFICATION_POLL_MS: '100' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

type Mention = { userId: number, username: string, type: 'user' | 'everyone' }

async function send (sender: TestUser, groupId: string, body: { content: string, mentions?: Mention[], parentMessageId?: string }): Promise<string> {
  const metadata = body.mentions === undefined
    ? undefined
    : { mentions: body.mentions.map((m) => ({ ...m, startIndex: 0, endIndex: 1 })) }
  return (await sendMessage(a, sender, groupId, { content: body.content, ...(metadata === undefined ? {} : { metadata }), ...(body.parentMessageId === undefined ? {} : { parentMessageId: body.parentMessageId }) })).id
}

const mentionOf = (user: TestUser): Mention => ({ userId: user.user.id, username: user.user.username, type: 'user' })
const everyone: Mention = { userId: 0, username: 'everyone', type: 'everyone' }

async function inbox (user: TestUser, query = ''): Promise<{ notifications: Array<Record<string, unknown> & { id: string }>, hasMore: boolean, nextCursor: string | null, unreadCount: number }> {
  const res = await a.inject({ method: 'GET', url: `${api}/notifications${query}`, headers: user.auth })
  if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
  return res.json().data
}

async function setChat (groupId: string, user: TestUser, values: { muted_until?: Date | null, notification_level?: 'all' | 'mentions' | 'none' }): Promise<void> {
  await a.db.updateTable('mirror_group_members').set(values).where('group_id', '=', toBin(groupId)).where('user_id', '=', user.user.id).execute()
}

t.test('a mention notifies the member on every connection, on every instance, and is listed with the unread count', async (t) => {
  const alice = await registerUser(a, { displayName: 'Alice A' })
  const bob = await registerUser(a)
  const bobOnA = await connected(a, bob, t)
  const bobOnB = await connected(b, bob, t)
  const aliceOnB = await connected(b, alice, t)
  const groupId = await createGroup(a, alice, [bob])
  await Promise.all([bobOnA.next('notification'), bobOnB.next('notification')]) // added to the group

  const messageId = await send(alice, groupId, { content: 'hi bob', mentions: [mentionOf(bob)] })
  const [onA, onB] = await Promise.all([bobOnA.next('notification'), bobOnB.next('notification')])
  const actor = { id: alice.user.id, username: alice.user.username, displayName: 'Alice A' }
  t.match(onA.payload, { type: 'mention', mentionType: 'user', groupId, groupName: 'Test group', messageId, emoji: null, isRead: false, readAt: null, actor })
  t.same(onB.payload, onA.payload, 'the same notification on the other instance')
  t.notOk('content' in onA.payload, 'no content in the notification')
  t.ok(await aliceOnB.quiet('notification', 200), 'the sender is not notified')

  const listed = await inbox(bob)
  t.equal(listed.unreadCount, 2)
  t.same(listed.notifications.map((n) => n.type), ['mention', 'added_to_group'], 'newest first')
  t.same(listed.notifications[0], onA.payload)

  const fresh = await connectWs(b, { token: bob.token })
  t.teardown(async () => { await fresh.close() })
  t.equal((await fresh.next('chat:sync')).payload.unreadNotifications, 2, 'chat:sync carries the unread count')
})

t.test('@everyone notifies each other member once; a member also named gets one user mention', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const carol = await registerUser(a)
  const [bobWs, carolWs, aliceWs] = await Promise.all([connected(a, bob, t), connected(a, carol, t), connected(a, alice, t)])
  const groupId = await createGroup(a, alice, [bob, carol])
  await Promise.all([bobWs.next('notification'), carolWs.next('notification')])

  await send(alice, groupId, { content: '@everyone @bob', mentions: [everyone, mentionOf(bob)] })
  t.match((await bobWs.next('notification')).payload, { type: 'mention', mentionType: 'user' })
  t.match((await carolWs.next('notification')).payload, { type: 'mention', mentionType: 'everyone' })
  t.ok(await bobWs.quiet('notification', 200), 'bob once')
  t.ok(await aliceWs.quiet('notification', 0), 'never the sender')
})

t.test('a reply notifies the sender of the replied-to message; replying to yourself notifies nobody', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const [aliceWs, bobWs] = await Promise.all([connected(a, alice, t), connected(a, bob, t)])
  const groupId = await createGroup(a, alice, [bob])
  await bobWs.next('notification')

  const question = await send(alice, groupId, { content: 'question' })
  await send(alice, groupId, { content: 'and another thing', parentMessageId: question })
  const answer = await send(bob, groupId, { content: 'answer', parentMessageId: question })
  t.match((await aliceWs.next('notification')).payload, { type: 'reply', messageId: answer, mentionType: null, actor: { id: bob.user.id } })
  t.ok(await aliceWs.quiet('notification', 200), 'one notification: her own reply made none')
})

t.test('a reaction to my message notifies me; reacting to my own message does not', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const aliceWs = await connected(a, alice, t)
  const messageId = await send(alice, groupId, { content: 'react to me' })
  const react = async (user: TestUser, emoji: string): Promise<void> => {
    const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages/${messageId}/reactions`, headers: user.auth, payload: { emoji } })
    t.equal(res.statusCode, 200, res.body)
  }
  await react(alice, '👍')
  await react(bob, '🎉')
  t.match((await aliceWs.next('notification')).payload, { type: 'reaction', emoji: '🎉', messageId, actor: { id: bob.user.id } })
  t.ok(await aliceWs.quiet('notification', 200))
})

t.test('being added to a group notifies the added member, on creation and by POST …/members', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const carol = await registerUser(a)
  const [bobWs, carolWs, aliceWs] = await Promise.all([connected(a, bob, t), connected(a, carol, t), connected(a, alice, t)])
  const groupId = await createGroup(a, alice, [bob])
  t.match((await bobWs.next('notification')).payload, { type: 'added_to_group', groupId, messageId: null, actor: { id: alice.user.id } })
  const res = await a.inject({ method: 'POST', url: `${api}/groups/${groupId}/members`, headers: alice.auth, payload: { userId: carol.user.id } })
  t.equal(res.statusCode, 201, res.body)
  t.match((await carolWs.next('notification')).payload, { type: 'added_to_group', groupId })
  t.ok(await aliceWs.quiet('notification', 200), 'the creator is not notified of her own group')
})

t.test('muted chats, notificationLevel, blocked senders and type preferences create nothing', async (t) => {
  const alice = await registerUser(a)
  const control = await registerUser(a)
  const muted = await registerUser(a)
  const silent = await registerUser(a)
  const mentionsOnly = await registerUser(a)
  const blocking = await registerUser(a)
  const noMentions = await registerUser(a)
  const others = [muted, silent, mentionsOnly, blocking, noMentions]
  const controlWs = await connected(a, control, t)
  const groupId = await createGroup(a, alice, [control, ...others])
  await controlWs.next('notification')

  await setChat(groupId, muted, { muted_until: new Date(Date.now() + 3_600_000) })
  await setChat(groupId, silent, { notification_level: 'none' })
  await setChat(groupId, mentionsOnly, { notification_level: 'mentions' })
  t.equal((await a.inject({ method: 'POST', url: `${api}/users/${alice.user.id}/block`, headers: blocking.auth })).statusCode, 200)
  t.equal((await a.inject({ method: 'PUT', url: `${api}/notifications/preferences`, headers: noMentions.auth, payload: { mention: false } })).statusCode, 200)
  await a.db.deleteFrom('notifications').where('user_id', 'in', others.map((u) => u.user.id)).execute()

  // One job notifies them all at once: once the control member has theirs, the job is done.
  await send(alice, groupId, { content: '@everyone', mentions: [everyone] })
  await controlWs.next('notification')
  const countOf = async (user: TestUser): Promise<number> => (await inbox(user)).notifications.length
  t.same(await Promise.all(others.map(countOf)), [0, 0, 1, 0, 0], 'only the mentions-level member is notified of a mention')

  // A reaction is not a mention: the mentions-level member gets none, an unmuted member does.
  const byMentionsOnly = await send(mentionsOnly, groupId, { content: 'mine' })
  const byControl = await send(control, groupId, { content: 'mine too' })
  for (const messageId of [byMentionsOnly, byControl]) {
    await a.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages/${messageId}/reactions`, headers: alice.auth, payload: { emoji: '👀' } })
  }
  await controlWs.next('notification', (f: Frame) => f.payload.type === 'reaction')
  t.equal(await countOf(mentionsOnly), 1, 'no reaction notification at level mentions')

  // Unmuted: notified again.
  await setChat(groupId, muted, { muted_until: new Date(Date.now() - 1000) })
  await send(alice, groupId, { content: '@everyone again', mentions: [everyone] })
  await controlWs.next('notification')
  t.equal(await countOf(muted), 1, 'a mute that has ended no longer silences')
})

t.test('list pages with a cursor, filters unread, marks read one and all, deletes; others\' notifications are 404', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const bobWs = await connected(a, bob, t)
  const groupId = await createGroup(a, alice, [bob])
  await bobWs.next('notification')
  for (let i = 0; i < 4; i++) {
    await send(alice, groupId, { content: `ping ${i}`, mentions: [mentionOf(bob)] })
    await bobWs.next('notification')
  }

  const first = await inbox(bob, '?limit=2')
  t.equal(first.notifications.length, 2)
  t.ok(first.hasMore)
  const second = await inbox(bob, `?limit=2&cursor=${first.nextCursor ?? ''}`)
  const third = await inbox(bob, `?limit=2&cursor=${second.nextCursor ?? ''}`)
  t.same(third, { notifications: [third.notifications[0]], hasMore: false, nextCursor: null, unreadCount: 5 })
  const all = [...first.notifications, ...second.notifications, ...third.notifications]
  t.equal(new Set(all.map((n) => n.id)).size, 5, 'no notification twice across pages')

  const target = all[1] as { id: string }
  const read = await a.inject({ method: 'PUT', url: `${api}/notifications/${target.id}/read`, headers: bob.auth })
  t.equal(read.statusCode, 200, read.body)
  t.match(read.json().data, { notification: { id: target.id, isRead: true }, unreadCount: 4 })
  t.match(read.json().data.notification.readAt, /^\d{4}-/)
  const unread = await inbox(bob, '?unread=true')
  t.equal(unread.notifications.length, 4)
  t.notOk(unread.notifications.some((n) => n.id === target.id))

  const stranger = await registerUser(a)
  t.equal((await a.inject({ method: 'PUT', url: `${api}/notifications/${target.id}/read`, headers: stranger.auth })).statusCode, 404)
  t.equal((await a.inject({ method: 'DELETE', url: `${api}/notifications/${target.id}`, headers: stranger.auth })).statusCode, 404)
  t.equal((await a.inject({ method: 'PUT', url: `${api}/notifications/not-a-uuid/read`, headers: bob.auth })).statusCode, 400)

  const readAll = await a.inject({ method: 'PUT', url: `${api}/notifications/read-all`, headers: bob.auth })
  t.same(readAll.json().data, { marked: 4, unreadCount: 0 })
  t.equal((await inbox(bob, '?unread=true')).notifications.length, 0)

  const deleted = await a.inject({ method: 'DELETE', url: `${api}/notifications/${target.id}`, headers: bob.auth })
  t.same(deleted.json().data, { deleted: true, id: target.id })
  t.equal((await a.inject({ method: 'DELETE', url: `${api}/notifications/${target.id}`, headers: bob.auth })).statusCode, 404)
  t.equal((await inbox(bob)).notifications.length, 4)
  t.equal((await a.inject({ method: 'GET', url: `${api}/notifications` })).statusCode, 401)
})

t.test('preferences default to all on, change per type, and refuse empty or unknown fields', async (t) => {
  const user = await registerUser(a)
  const url = `${api}/notifications/preferences`
  t.same((await a.inject({ method: 'GET', url, headers: user.auth })).json().data, { mention: true, reply: true, reaction: true, addedToGroup: true })
  const put = await a.inject({ method: 'PUT', url, headers: user.auth, payload: { reaction: false } })
  t.same(put.json().data, { mention: true, reply: true, reaction: false, addedToGroup: true })
  await a.inject({ method: 'PUT', url, headers: user.auth, payload: { addedToGroup: false } })
  t.same((await a.inject({ method: 'GET', url, headers: user.auth })).json().data, { mention: true, reply: true, reaction: false, addedToGroup: false })
  for (const payload of [{}, { email: true }, { mention: 'yes' }]) {
    const res = await a.inject({ method: 'PUT', url, headers: user.auth, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})

t.test('a job committed before a crash is turned into notifications by the next instance to look', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const groupId = await createGroup(a, alice, [bob])
  const messageId = await send(alice, groupId, { content: 'hello' })
  // What the send transaction would have left had the process died right after its commit.
  await sql`INSERT INTO notification_jobs (kind, group_id, message_id, actor_user_id, target_user_id, emoji)
    VALUES ('reaction', ${toBin(groupId)}, ${toBin(messageId)}, ${bob.user.id}, ${alice.user.id}, '🔥')`.execute(a.db)
  const aliceWs = await connected(b, alice, t)
  t.match((await aliceWs.next('notification')).payload, { type: 'reaction', emoji: '🔥', messageId }, 'found by the poll, no wake-up needed')
  const left = await a.db.selectFrom('notification_jobs').select('id').execute()
  t.same(left, [], 'the job is consumed')
})

t.test('@everyone in a large group is one job: every member is notified, in batched inserts', async (t) => {
  const alice = await registerUser(a)
  const watcher = await registerUser(a)
  const watcherWs = await connected(a, watcher, t)
  const groupId = await createGroup(a, alice, [watcher])
  await watcherWs.next('notification')
  // 1,200 more members, written straight into the tables (registering each through the API would hash 1,200 passwords).
  const tag = `big${Date.now()}`
  await a.db.insertInto('users').values(Array.from({ length: 1200 }, (_, i) => ({
    email: `${tag}-${i}@example.test`, username: `${tag}_${i}`, display_name: null, avatar_url: null, password_hash: null, created_at: new Date(), updated_at: new Date()
  }))).execute()
  const ids = await a.db.selectFrom('users').select('id').where('username', 'like', `${tag}_%`).execute()
  await a.db.insertInto('mirror_group_members').values(ids.map(({ id }) => ({ group_id: toBin(groupId), user_id: id, role: 'member' as const, joined_at: new Date() }))).execute()

  await send(alice, groupId, { content: '@everyone big news', mentions: [everyone] })
  await watcherWs.next('notification')
  const count = await a.db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', toBin(groupId)).where('type', '=', 'mention').executeTakeFirstOrThrow()
  t.equal(Number(count.n), 1201, 'every other member, the watcher included, in the same transaction')
})

t.test('the OpenAPI and AsyncAPI documents carry the notification routes, the event and the webhook body', async (t) => {
  const openapi = (await a.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>>, components: { schemas: Record<string, unknown> } }
  const operations = Object.entries(openapi.paths).filter(([path]) => path.startsWith(`${api}/notifications`))
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.slice(api.length)}`)).sort()
  t.same(operations, [
    'DELETE /notifications/{id}', 'GET /notifications/', 'GET /notifications/preferences', 'PUT /notifications/preferences',
    'PUT /notifications/read-all', 'PUT /notifications/{id}/read'
  ])
  for (const name of ['Notification', 'ListNotificationsResponse', 'NotificationPreferences', 'PushWebhookPayload']) {
    t.ok(name in openapi.components.schemas, `${name} is a component`)
  }
  const asyncapi = (await a.inject({ method: 'GET', url: '/asyncapi.json' })).json() as { components: { messages: Record<string, { name: string }>, schemas: Record<string, { properties: { payload: { properties: Record<string, unknown> } } }> } }
  t.equal(asyncapi.components.messages.NotificationEvent?.name, 'notification')
  t.ok('groupName' in (asyncapi.components.schemas.NotificationEvent?.properties.payload.properties ?? {}))
  t.ok('unreadNotifications' in (asyncapi.components.schemas.SyncFrame?.properties.payload.properties ?? {}))
})
