import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { type Frame, joined, type WsClient } from '../helpers/ws.ts'
import { ClearedHistory, shownAfterClear } from '../../src/realtime/cleared-history.ts'
import type { ChatMessageEvent } from '../../schemas/events.ts'

// Issue 11 point 2 on the live path, on two instances sharing the database and Redis: a reply
// quoting a message the receiver cleared for themselves reaches all their sockets (and their
// mention) without `metadata.replyPreview`, as history and replay already show it; the other
// members still get the preview. A clear made while connected counts from the next message.

const env = { RATE_LIMIT_SCALE: '100' }
const a = await buildTestApp(t, import.meta.url, { env })
const b = await buildTestApp(t, import.meta.url, { env })
const api = a.config.apiPrefix

async function rest (app: FastifyInstance, who: TestUser, method: 'POST' | 'DELETE', path: string, payload?: object): Promise<Record<string, unknown>> {
  const res = await app.inject({ method, url: `${api}${path}`, headers: who.auth, ...(payload === undefined ? {} : { payload }) })
  if (res.statusCode >= 300) throw new Error(`${method} ${path} failed: ${res.statusCode} ${res.body}`)
  return res.json().data as Record<string, unknown>
}

async function send (app: FastifyInstance, sender: TestUser, groupId: string, content: string): Promise<{ id: string, seq: number }> {
  const data = await rest(app, sender, 'POST', `/groups/${groupId}/chat/messages`, { content })
  return data.message as { id: string, seq: number }
}

/** Replies over REST to `quoted` with a reply preview of it, mentioning `mentioned`; returns the reply's id. */
async function reply (app: FastifyInstance, sender: TestUser, groupId: string, quoted: { id: string }, mentioned: TestUser[]): Promise<string> {
  let content = 'about that'
  const mentions = mentioned.map((user) => {
    const startIndex = content.length + 1
    content = `${content} @${user.user.username}`
    return { userId: user.user.id, username: user.user.username, startIndex, endIndex: content.length, type: 'user' }
  })
  const metadata = { mentions, replyPreview: { messageId: quoted.id, senderUsername: 'someone', content: 'the quoted words' } }
  const data = await rest(app, sender, 'POST', `/groups/${groupId}/chat/messages`, { content, parentMessageId: quoted.id, metadata })
  return (data.message as { id: string }).id
}

async function clearForMe (app: FastifyInstance, user: TestUser, groupId: string): Promise<void> {
  await rest(app, user, 'DELETE', `/groups/${groupId}/chat/messages?forEveryone=false`)
}

/** Whether the live chat:message `id` reached the socket with a reply preview. */
async function messageHasPreview (client: WsClient, id: string): Promise<boolean> {
  const frame = await client.next('chat:message', (f) => f.payload.id === id)
  return 'replyPreview' in (frame.payload.metadata as object)
}

/** Whether the chat:mention of message `id` reached the socket with a reply preview. */
async function mentionHasPreview (client: WsClient, id: string): Promise<boolean> {
  const frame: Frame = await client.next('chat:mention', (f) => (f.payload.message as { id: string }).id === id)
  return 'replyPreview' in ((frame.payload.message as { metadata?: object }).metadata ?? {})
}

interface Cast { alice: TestUser, bob: TestUser, carol: TestUser, groupId: string }

async function cast (): Promise<Cast> {
  const [alice, bob, carol] = [await registerUser(a), await registerUser(a), await registerUser(a)]
  return { alice, bob, carol, groupId: await createGroup(a, carol, [alice, bob]) }
}

t.test('a reply quoting a message I cleared reaches my sockets on both instances, and my mention, without its preview; the others get it', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  const quoted = await send(a, carol, groupId, 'secret plums')
  await send(a, bob, groupId, 'noted')
  await clearForMe(a, alice, groupId)
  const [aliceOnA, aliceOnB, bobOnB, carolOnA] = await Promise.all([
    joined(a, alice, groupId), joined(b, alice, groupId), joined(b, bob, groupId), joined(a, carol, groupId)
  ])
  t.teardown(async () => { await Promise.all([aliceOnA, aliceOnB, bobOnB, carolOnA].map(async (c) => await c.close())) })

  const id = await reply(a, bob, groupId, quoted, [alice, carol])

  t.same([await messageHasPreview(aliceOnA, id), await messageHasPreview(aliceOnB, id)], [false, false], 'alice: no preview on either instance')
  t.same([await mentionHasPreview(aliceOnA, id), await mentionHasPreview(aliceOnB, id)], [false, false], 'nor in her mention')
  t.same([await messageHasPreview(bobOnB, id), await messageHasPreview(carolOnA, id)], [true, true], 'bob and carol get the preview')
  t.ok(await mentionHasPreview(carolOnA, id), 'and so does carol\'s mention')
})

t.test('a reply quoting a message after my clear keeps its preview for me', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  await send(a, carol, groupId, 'old news')
  await clearForMe(b, alice, groupId)
  const fresh = await send(a, carol, groupId, 'fresh news')
  const [aliceOnA, aliceOnB] = await Promise.all([joined(a, alice, groupId), joined(b, alice, groupId)])
  t.teardown(async () => { await Promise.all([aliceOnA.close(), aliceOnB.close()]) })

  const id = await reply(b, bob, groupId, fresh, [alice])

  t.same([await messageHasPreview(aliceOnA, id), await messageHasPreview(aliceOnB, id)], [true, true], 'the preview of a message I did not clear stays')
  t.ok(await mentionHasPreview(aliceOnB, id), 'in my mention too')
})

t.test('a clear made while I am connected takes effect for the next live message, on every instance, without reconnecting', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  const quoted = await send(a, carol, groupId, 'secret plums')
  const [aliceOnA, aliceOnB, carolOnB] = await Promise.all([joined(a, alice, groupId), joined(b, alice, groupId), joined(b, carol, groupId)])
  t.teardown(async () => { await Promise.all([aliceOnA.close(), aliceOnB.close(), carolOnB.close()]) })

  const before = await reply(a, bob, groupId, quoted, [])
  t.same([await messageHasPreview(aliceOnA, before), await messageHasPreview(aliceOnB, before)], [true, true], 'before the clear: the preview')

  await clearForMe(b, alice, groupId)
  // Each socket has heard the clear before the next message is sent.
  await Promise.all([aliceOnA.next('chat:messages_cleared'), aliceOnB.next('chat:messages_cleared')])
  const after = await reply(a, bob, groupId, quoted, [alice])

  t.same([await messageHasPreview(aliceOnA, after), await messageHasPreview(aliceOnB, after)], [false, false], 'after it: none, on both instances')
  t.same([await mentionHasPreview(aliceOnA, after), await mentionHasPreview(aliceOnB, after)], [false, false], 'nor in the mention')
  t.ok(await messageHasPreview(carolOnB, after), 'carol still gets it')
})

t.test('a gap fill reads replies as the reader is shown them', async (t) => {
  const { alice, bob, carol, groupId } = await cast()
  const quoted = await send(a, carol, groupId, 'secret plums')
  await clearForMe(a, alice, groupId)
  const id = await reply(a, bob, groupId, quoted, [])
  const previewOf = (events: ChatMessageEvent[]): boolean => 'replyPreview' in (events.find((e) => e.payload.id === id)?.payload.metadata ?? {})
  t.notOk(previewOf(await a.chatService.messageEventsBetween(groupId, 0, 2, alice.user.id)), 'for alice: no preview')
  t.ok(previewOf(await a.chatService.messageEventsBetween(groupId, 0, 2, carol.user.id)), 'for carol: the preview')
})

t.test('receivers whose clear covers the quoted message share one frame without the preview; the rest share the original', async (t) => {
  const groupId = '00000000-0000-7000-8000-000000000001'
  const event: ChatMessageEvent = {
    type: 'chat:message',
    payload: {
      id: '00000000-0000-7000-8000-000000000002',
      groupId,
      senderUserId: 1,
      senderUsername: 'x',
      contentType: 'text',
      parentMessageId: '00000000-0000-7000-8000-000000000003',
      threadRootId: '00000000-0000-7000-8000-000000000003',
      metadata: { replyPreview: { messageId: '00000000-0000-7000-8000-000000000003', senderUsername: 'y', content: 'quoted' } },
      status: 'sent',
      clientMessageId: null,
      createdAt: new Date(0).toISOString(),
      encryptedContent: true,
      seq: 9,
      isDeleted: false
    }
  }
  const [first, second, earlier, never] = [new ClearedHistory(), new ClearedHistory(), new ClearedHistory(), new ClearedHistory()]
  first.raise(groupId, 5)
  second.raise(groupId, 3)
  second.raise(groupId, 7)
  earlier.raise(groupId, 4)
  const shown = [first, second, earlier, never].map((cleared) => shownAfterClear(cleared, groupId, event, 5))
  t.equal(shown[0], shown[1], 'one variant for both clearers')
  t.notOk('replyPreview' in (shown[0] as ChatMessageEvent).payload.metadata)
  t.equal(shown[2], event, 'a clear before the quoted message changes nothing')
  t.equal(shown[3], event, 'nor does never having cleared')
  t.equal(shownAfterClear(first, groupId, event, undefined), event, 'an event quoting nothing is never copied')
  first.forget(groupId)
  t.equal(first.size, 0, 'a forgotten group holds nothing')
})
