import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { type Frame, joined } from '../helpers/ws.ts'
import { BlockedSenders, hiddenByBlock } from '../../src/realtime/blocking.ts'

// Issue 11 point 9 in realtime, on two instances sharing the database and Redis: a user's
// sockets never get the messages, mentions, typing or presence of users they blocked (the
// block heard through a notice on every instance, or read when the socket connects, replay
// included), while the other members' sockets get everything as before.

const env = { RATE_LIMIT_SCALE: '100' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

async function post (app: FastifyInstance, who: TestUser, path: string, payload: object = {}): Promise<Record<string, unknown>> {
  const res = await app.inject({ method: 'POST', url: `${api}${path}`, headers: who.auth, payload })
  if (res.statusCode >= 300) throw new Error(`${path} failed: ${res.statusCode} ${res.body}`)
  return res.json().data as Record<string, unknown>
}

async function put (app: FastifyInstance, who: TestUser, path: string, payload: object): Promise<void> {
  const res = await app.inject({ method: 'PUT', url: `${api}${path}`, headers: who.auth, payload })
  if (res.statusCode >= 300) throw new Error(`${path} failed: ${res.statusCode} ${res.body}`)
}

/** Sends over REST, mentioning `mentioned`; returns the message id. */
async function sendMentioning (app: FastifyInstance, sender: TestUser, groupId: string, mentioned: TestUser, text: string): Promise<string> {
  const content = `${text} @${mentioned.user.username}`
  const mention = { userId: mentioned.user.id, username: mentioned.user.username, startIndex: text.length + 1, endIndex: content.length, type: 'user' }
  const data = await post(app, sender, `/groups/${groupId}/chat/messages`, { content, metadata: { mentions: [mention] } })
  return (data.message as { id: string }).id
}

/** Who a frame shows acting, as the gateway's filter reads it. */
function actorOf (frame: Frame): unknown {
  if (frame.type === 'chat:message' || frame.type === 'chat:message_edited') return frame.payload.senderUserId
  if (frame.type === 'chat:mention') return (frame.payload.message as { senderUserId: number }).senderUserId
  if (frame.type === 'chat:typing' || frame.type === 'chat:presence') return frame.payload.userId
  return null
}

interface Cast { alice: TestUser, bob: TestUser, carol: TestUser, groupId: string }

async function cast (): Promise<Cast> {
  const [alice, bob, carol] = [await registerUser(a), await registerUser(a), await registerUser(a)]
  return { alice, bob, carol, groupId: await createGroup(a, carol, [alice, bob]) }
}

t.test('a blocker\'s sockets on another instance stop getting the blocked user\'s messages, mentions, typing and presence; others get them all', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  const aliceOnB = await joined(b, alice, groupId)
  const carolOnB = await joined(b, carol, groupId)
  t.teardown(async () => { await Promise.all([aliceOnB.close(), carolOnB.close()]) })
  await post(a, alice, `/users/${bob.user.id}/block`, { reason: 'Spam' })

  const bobOnA = await joined(a, bob, groupId)
  t.teardown(async () => { await bobOnA.close() })
  await bobOnA.request('chat:presence_update', { groupId, status: 'busy' })
  await bobOnA.request('chat:typing_start', { groupId })
  const fromBob = await sendMentioning(a, bob, groupId, alice, 'buy now')
  const fromCarol = await sendMentioning(a, carol, groupId, alice, 'lunch?')

  // Per channel, events arrive in publish order: once Carol's arrive, Bob's would have.
  t.equal((await aliceOnB.next('chat:message')).payload.id, fromCarol, 'alice\'s next message is carol\'s')
  t.equal(((await aliceOnB.next('chat:mention')).payload.message as { id: string }).id, fromCarol, 'and so is her next mention')
  await put(a, bob, `/groups/${groupId}/chat/messages/${fromBob}`, { content: 'buy now, cheaper' })
  await put(a, carol, `/groups/${groupId}/chat/messages/${fromCarol}`, { content: 'lunch at one?' })
  t.equal((await aliceOnB.next('chat:message_edited')).payload.messageId, fromCarol, 'alice\'s next edit is carol\'s')
  t.same(aliceOnB.frames.filter((f) => actorOf(f) === bob.user.id).map((f) => f.type), [], 'nothing of bob reached alice')

  t.match((await carolOnB.next('chat:presence', (f) => f.payload.userId === bob.user.id && f.payload.status === 'busy')).payload, { userId: bob.user.id })
  t.match((await carolOnB.next('chat:typing', (f) => f.payload.userId === bob.user.id)).payload, { isTyping: true })
  t.same([(await carolOnB.next('chat:message')).payload.id, (await carolOnB.next('chat:message')).payload.id], [fromBob, fromCarol], 'carol gets both messages')
  t.same([(await carolOnB.next('chat:message_edited')).payload.messageId, (await carolOnB.next('chat:message_edited')).payload.messageId], [fromBob, fromCarol], 'and both edits')
})

t.test('a socket opened after the block hides the blocked user from its replay; an unblock on another instance shows them again', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  await post(b, alice, `/users/${bob.user.id}/block`)
  const first = await sendMentioning(a, carol, groupId, bob, 'morning')
  await sendMentioning(a, bob, groupId, carol, 'spam spam')
  const third = await sendMentioning(a, carol, groupId, bob, 'agenda')

  const aliceOnA = await joined(a, alice, groupId, 0)
  t.teardown(async () => { await aliceOnA.close() })
  t.same([(await aliceOnA.next('chat:message')).payload.id, (await aliceOnA.next('chat:message')).payload.id], [first, third], 'the replay skips bob\'s message')
  const carolOnA = await joined(a, carol, groupId, 0)
  t.teardown(async () => { await carolOnA.close() })
  const carolSeqs = [1, 2, 3].map(async () => (await carolOnA.next('chat:message')).payload.seq)
  t.same(await Promise.all(carolSeqs), [1, 2, 3], 'carol\'s replay is whole')

  await post(b, alice, `/users/${bob.user.id}/unblock`)
  const afterUnblock = await sendMentioning(b, bob, groupId, alice, 'sorry')
  const next = await aliceOnA.next('chat:message')
  t.match(next.payload, { id: afterUnblock, senderUserId: bob.user.id }, 'bob reaches alice again, live')
  t.equal(((await aliceOnA.next('chat:mention')).payload.message as { id: string }).id, afterUnblock)
})

t.test('a block or unblock heard while the list is being read is not lost, whichever the read saw', async (t) => {
  const sawBoth = new BlockedSenders()
  sawBoth.beginLoad()
  sawBoth.change(7, true)
  sawBoth.change(8, false)
  sawBoth.finishLoad([7, 8])
  t.same([sawBoth.has(7), sawBoth.has(8)], [true, false], 'the read already had both changes')
  const sawNeither = new BlockedSenders()
  sawNeither.beginLoad()
  sawNeither.change(7, true)
  sawNeither.change(8, false)
  sawNeither.finishLoad([8])
  t.same([sawNeither.has(7), sawNeither.has(8)], [true, false], 'the read had neither')
  sawNeither.change(9, true)
  t.ok(sawNeither.has(9), 'after the read, changes apply directly')
  const typing = { type: 'chat:typing' as const, payload: { groupId: '00000000-0000-7000-8000-000000000000', userId: 9, username: 'x', isTyping: true } }
  t.ok(hiddenByBlock(sawNeither, typing))
  t.notOk(hiddenByBlock(new BlockedSenders(), typing), 'nothing is hidden from a user who blocked no one')
})
