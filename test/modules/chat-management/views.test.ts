import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { ManualClock } from '../../helpers/clock.ts'
import { registerUser } from '../../helpers/users.ts'
import { call, createGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { viewOf } from '../../helpers/chat-view.ts'
import { connected } from '../../helpers/ws.ts'

// Chat management is per user (seed 05 §§1–5): each action changes the actor's view on every
// device and instance, and nobody else's. Two instances on one database and Redis prefix: the
// actor acts on A and watches from B.

const env = { RATE_LIMIT_SCALE: '1000' }
const clock = new ManualClock()
const a = await buildTestApp(t, import.meta.url, { env, clock })
const b = await buildTestApp(t, import.meta.url, { env, clock })

t.test('deleting a direct chat hides and clears it for me until a newer message; the other user sees no change', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const { group: chat } = dataOf<{ group: { id: string } }>(await call(a, alice, 'POST', `/groups/direct/${bob.user.id}`))
  const groupId = chat.id
  await sendMessage(a, bob, groupId, 'ripe apples')
  await sendMessage(a, alice, groupId, 'green apples')
  const aliceOnB = await connected(b, alice)
  t.teardown(async () => { await aliceOnB.close() })

  t.match(dataOf(await call(a, alice, 'DELETE', `/groups/${groupId}/chat`)), { groupId, left: false })
  t.match((await aliceOnB.next('chat:messages_cleared')).payload, { groupId, upToSeq: 2, forEveryone: false, clearedBy: alice.user.id, hidden: true })
  t.match((await aliceOnB.next('chat:unread_count')).payload, { groupId, unreadCount: 0 })

  for (const app of [a, b]) {
    t.same(await viewOf(app, alice, groupId, 'apples'),
      { placement: 'hidden', listUnread: null, history: [], search: 0, unread: 0, inTotal: false, sync: null, replay: [] }, 'mine: gone')
  }
  t.same(await viewOf(b, bob, groupId, 'apples'),
    { placement: 'inbox', listUnread: 1, history: [1, 2], search: 2, unread: 1, inTotal: true, sync: 1, replay: [1, 2] }, 'Bob\'s: unchanged')

  await sendMessage(b, bob, groupId, 'more apples')
  t.same(await viewOf(a, alice, groupId, 'apples'),
    { placement: 'inbox', listUnread: 1, history: [3], search: 1, unread: 1, inTotal: true, sync: 1, replay: [3] }, 'a newer message brings it back, alone')
})

t.test('clearing history for me clears it on all my devices and withholds reply previews of cleared messages', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  const quoted = await sendMessage(a, bob, groupId, 'secret plums')
  await sendMessage(a, alice, groupId, 'noted')
  const bobOnB = await connected(b, bob)
  t.teardown(async () => { await bobOnB.close() })

  t.match(dataOf(await call(a, bob, 'DELETE', `/groups/${groupId}/chat/messages`)), { groupId, forEveryone: false, upToSeq: 2 })
  t.match((await bobOnB.next('chat:messages_cleared')).payload, { groupId, upToSeq: 2, forEveryone: false, hidden: false })
  const reply = { parentMessageId: quoted.id, metadata: { replyPreview: { messageId: quoted.id, senderUsername: bob.user.username, content: 'secret plums' } } }
  const answer = await sendMessage(a, alice, groupId, { content: 'about those', ...reply })

  t.same(await viewOf(b, bob, groupId, 'plums'),
    { placement: 'inbox', listUnread: 1, history: [3], search: 0, unread: 1, inTotal: true, sync: 1, replay: [3] }, 'mine: only what came after')
  t.same(await viewOf(b, alice, groupId, 'plums'),
    { placement: 'inbox', listUnread: 1, history: [1, 2, 3], search: 1, unread: 1, inTotal: true, sync: 1, replay: [1, 2, 3] }, 'Alice\'s: unchanged (Bob\'s first message still unread)')

  const forBob = dataOf<{ message: { metadata: Record<string, unknown> } }>(await call(a, bob, 'GET', `/groups/${groupId}/chat/messages/${answer.id}`))
  t.notOk('replyPreview' in forBob.message.metadata, 'no preview of a message cleared for me')
  const forAlice = dataOf<{ message: { metadata: Record<string, unknown> } }>(await call(a, alice, 'GET', `/groups/${groupId}/chat/messages/${answer.id}`))
  t.match(forAlice.message.metadata, { replyPreview: { content: 'secret plums' } }, 'Alice still sees it')
  const client = await connected(a, bob)
  t.teardown(async () => { await client.close() })
  await client.request('chat:join_group', { groupId, sinceSeq: 0 })
  const replayed = client.frames.find((f) => f.type === 'chat:message' && f.payload.id === answer.id)
  t.notOk(replayed === undefined || 'replyPreview' in (replayed.payload.metadata as object), 'nor in the replay')
})

t.test('clearing for everyone takes an admin; every member\'s devices hear it and the messages never come back, even for newcomers', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(a), await registerUser(a), await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob, carol])
  dataOf(await call(a, alice, 'PATCH', `/groups/${groupId}/members/${bob.user.id}`, { role: 'admin' }))
  const first = await sendMessage(a, carol, groupId, 'old pears')
  await sendMessage(a, alice, groupId, 'older pears')
  dataOf(await call(a, alice, 'POST', `/groups/${groupId}/chat/messages/${first.id}/pin`))
  t.equal((await call(a, carol, 'DELETE', `/groups/${groupId}/chat/messages?forEveryone=true`)).statusCode, 403, 'not a member')
  const watchers = [await connected(b, alice), await connected(b, carol), await connected(a, carol)]
  t.teardown(async () => { await Promise.all(watchers.map(async (w) => await w.close())) })

  t.match(dataOf(await call(a, bob, 'DELETE', `/groups/${groupId}/chat/messages?forEveryone=true`)), { forEveryone: true, upToSeq: 2 })
  for (const client of watchers) {
    t.match((await client.next('chat:messages_cleared')).payload, { groupId, upToSeq: 2, forEveryone: true, clearedBy: bob.user.id })
  }
  dataOf(await call(a, alice, 'POST', `/groups/${groupId}/members`, { userId: dave.user.id }))
  for (const user of [alice, carol, dave]) {
    t.same(await viewOf(b, user, groupId, 'pears'),
      { placement: 'inbox', listUnread: 0, history: [], search: 0, unread: 0, inTotal: false, sync: 0, replay: [] }, `${user.user.username}: cleared`)
  }
  t.same((dataOf<{ count: number }>(await call(a, alice, 'GET', `/groups/${groupId}/chat/pinned`))).count, 0, 'pins of cleared messages are gone')
  await sendMessage(a, carol, groupId, 'fresh pears')
  t.same((await viewOf(a, dave, groupId, 'pears')).history, [3], 'what follows is seen by all')
})

t.test('archive is mine: a new message unarchives an unmuted chat, not a muted one', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  await sendMessage(a, bob, groupId, 'hello figs')
  const aliceOnB = await connected(b, alice)
  t.teardown(async () => { await aliceOnB.close() })
  const placement = async (user = alice): Promise<string> => (await viewOf(b, user, groupId, 'figs')).placement

  t.match(dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/archive`, { isArchived: true })), { groupId, isArchived: true })
  t.match((await aliceOnB.next('chat:preferences_updated')).payload, { groupId, userId: alice.user.id, archived: true })
  t.equal(await placement(), 'archive')
  t.equal(await placement(bob), 'inbox', 'Bob\'s list is unchanged')
  await sendMessage(b, bob, groupId, 'more figs')
  t.equal(await placement(), 'inbox', 'a new message unarchives an unmuted chat')

  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/archive`, { isArchived: true }))
  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/preferences`, { muteFor: '8h' }))
  await sendMessage(b, bob, groupId, 'muted figs')
  t.equal(await placement(), 'archive', 'a muted chat stays archived')
  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/preferences`, { mutedUntil: null }))
  t.equal(await placement(), 'archive', 'unmuting does not reach back over messages that came while muted')
  await sendMessage(b, bob, groupId, 'loud figs')
  t.equal(await placement(), 'inbox')
  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/archive`, { isArchived: true }))
  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/archive`, { isArchived: false }))
  t.equal(await placement(), 'inbox', 'unarchived by hand')
})

t.test('read status: up to a message and never backwards, the whole chat, or unread by hand until read', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  const [m1, m2, m3] = [await sendMessage(a, bob, groupId, 'one kiwi'), await sendMessage(a, bob, groupId, 'two kiwi'), await sendMessage(a, bob, groupId, 'three kiwi')]
  const aliceOnB = await connected(b, alice)
  t.teardown(async () => { await aliceOnB.close() })
  const status = async (body: object): Promise<Record<string, unknown>> => dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/read-status`, body))

  t.match(await status({ isRead: true, lastReadMessageId: m2.id }), { groupId, unreadCount: 1, lastReadMessageId: m2.id })
  t.match((await aliceOnB.next('chat:unread_count')).payload, { groupId, unreadCount: 1 })
  t.match(await status({ isRead: true, lastReadMessageId: m1.id }), { unreadCount: 1, lastReadMessageId: m2.id }, 'never backwards')
  t.match(await status({ isRead: true }), { unreadCount: 0, lastReadMessageId: m3.id }, 'the whole chat')
  t.equal((await call(a, alice, 'PUT', `/groups/${groupId}/chat/read-status`, { isRead: true, lastReadMessageId: '0190a0a0-0000-7000-8000-000000000000' })).statusCode, 404, 'an unknown message')

  t.match(await status({ isRead: false }), { unreadCount: 1, lastReadMessageId: m3.id }, 'unread by hand')
  t.match((await aliceOnB.next('chat:unread_count', (f) => f.payload.unreadCount === 1)).payload, { groupId })
  t.same(await viewOf(b, alice, groupId, 'kiwi'),
    { placement: 'inbox', listUnread: 1, history: [1, 2, 3], search: 3, unread: 1, inTotal: true, sync: 1, replay: [1, 2, 3] }, 'mine: shows 1 unread everywhere')
  t.match(await viewOf(b, bob, groupId, 'kiwi'), { listUnread: 0, unread: 0, sync: 0 }, 'Bob\'s: unchanged')
  dataOf(await call(a, alice, 'POST', `/groups/${groupId}/chat/read`, { messageId: m3.id }))
  t.match((await aliceOnB.next('chat:unread_count', (f) => f.payload.unreadCount === 0)).payload, { groupId })
  t.match(await viewOf(a, alice, groupId, 'kiwi'), { listUnread: 0, unread: 0, sync: 0 }, 'reading the chat ends the mark')
})

t.test('preferences: level, previews and a mute that ends by itself; announced to my other devices only', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  await sendMessage(a, bob, groupId, 'a lime')
  const path = `/groups/${groupId}/chat/preferences`
  t.same(dataOf(await call(a, alice, 'GET', path)), {
    groupId,
    userId: alice.user.id,
    mutedUntil: null,
    notificationLevel: 'all',
    pinned: false,
    archived: false,
    lastReadMessageId: null,
    lastReadAt: null,
    unreadCount: 1,
    showPreviews: true
  })
  const aliceOnB = await connected(b, alice)
  const bobOnB = await connected(b, bob)
  t.teardown(async () => { await Promise.all([aliceOnB.close(), bobOnB.close()]) })

  const updated = dataOf<{ mutedUntil: string }>(await call(a, alice, 'PUT', path, { notificationLevel: 'mentions', showPreviews: false, muteFor: '1h' }))
  t.match(updated, { notificationLevel: 'mentions', showPreviews: false, mutedUntil: new Date(clock.now() + 3_600_000).toISOString() })
  t.same((await aliceOnB.next('chat:preferences_updated')).payload, updated, 'my other device hears it')
  t.ok(await bobOnB.quiet('chat:preferences_updated', 200), 'Bob hears nothing')
  t.match(dataOf(await call(b, bob, 'GET', path)), { notificationLevel: 'all', mutedUntil: null, showPreviews: true }, 'Bob\'s are his own')
  const previewOf = async (user: typeof alice): Promise<unknown> =>
    (dataOf<{ groups: Array<{ id: string, lastMessage: { preview: string | null } }> }>(await call(a, user, 'GET', '/groups?limit=100'))).groups.find((g) => g.id === groupId)?.lastMessage.preview
  t.equal(await previewOf(alice), null, 'no preview in my chat list')
  t.equal(await previewOf(bob), 'a lime', 'Bob\'s list still quotes it')
  const totals = async (): Promise<boolean> => (dataOf<{ groups: Array<{ groupId: string }> }>(await call(a, alice, 'GET', '/chat/unread-count?excludeMuted=true'))).groups.some((g) => g.groupId === groupId)
  t.equal(await totals(), false, 'a muted chat is left out with excludeMuted')

  await clock.advance(3_600_001)
  t.match(dataOf(await call(b, alice, 'GET', path)), { mutedUntil: null, notificationLevel: 'mentions' }, 'the mute ended by itself')
  t.equal(await totals(), true)
  t.match(dataOf(await call(a, alice, 'PUT', path, { muteFor: 'forever' })), { mutedUntil: '9999-12-31T23:59:59.000Z' })
  const until = new Date(clock.now() + 90_000).toISOString()
  t.match(dataOf(await call(a, alice, 'PUT', path, { mutedUntil: until })), { mutedUntil: until })
  for (const body of [{}, { muteFor: '1h', mutedUntil: until }, { mutedUntil: new Date(clock.now() - 1000).toISOString() }, { muteFor: '2h' }, { notificationLevel: 'some' }]) {
    t.equal((await call(a, alice, 'PUT', path, body)).statusCode, 400, JSON.stringify(body))
  }
})

t.test('at most 10 pinned chats, pinned first in my chat list', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groups: string[] = []
  for (let i = 0; i < 11; i++) groups.push(await createGroup(a, bob, [alice]))
  for (const groupId of groups.slice(0, 10)) dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/preferences`, { pinned: true }))
  const eleventh = groups[10] as string
  t.equal((await call(a, alice, 'PUT', `/groups/${eleventh}/chat/preferences`, { pinned: true })).statusCode, 409)
  await sendMessage(a, bob, eleventh, 'newest of all')
  const page = async (cursor?: string): Promise<{ groups: Array<{ id: string, pinned: boolean }>, nextCursor: string | null }> =>
    dataOf(await call(a, alice, 'GET', `/groups?limit=4${cursor === undefined ? '' : `&cursor=${cursor}`}`))
  const seen: Array<{ id: string, pinned: boolean }> = []
  let cursor: string | undefined
  do {
    const next = await page(cursor)
    seen.push(...next.groups)
    cursor = next.nextCursor ?? undefined
  } while (cursor !== undefined)
  t.same(seen.map((g) => g.pinned), [...Array(10).fill(true), false], 'pinned first, across pages')
  t.equal(seen.at(-1)?.id, eleventh, 'the most recent unpinned chat comes after every pinned one')
  t.same(new Set(seen.map((g) => g.id)).size, 11, 'no chat twice')
  const bobs = dataOf<{ groups: Array<{ pinned: boolean }> }>(await call(a, bob, 'GET', '/groups?limit=100'))
  t.ok(bobs.groups.every((g) => !g.pinned), 'Bob pinned nothing')
})

t.test('archive, mute and pins survive a restart', async (t) => {
  const [alice, bob] = [await registerUser(a), await registerUser(a)]
  const groupId = await createGroup(a, alice, [bob])
  dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/archive`, { isArchived: true }))
  const prefs = dataOf(await call(a, alice, 'PUT', `/groups/${groupId}/chat/preferences`, { muteFor: '1d', pinned: true, notificationLevel: 'none' }))
  // A new process on the same database: it knows only what was stored.
  const restarted = await buildTestApp(t, import.meta.url, { env })
  t.same(dataOf(await call(restarted, alice, 'GET', `/groups/${groupId}/chat/preferences`)), prefs)
  t.match(dataOf(await call(restarted, alice, 'GET', '/groups?archived=true')), { groups: [{ id: groupId, archived: true, pinned: true }] })
})
