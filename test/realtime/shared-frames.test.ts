import t from 'tap'
import type WebSocket from 'ws'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs, type WsClient } from '../helpers/ws.ts'

// Issue 16.1: a group event is serialized once for every receiver on an instance; reactions
// keep hasReacted relative to the receiver without a frame per subscriber.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })
const api = app.config.apiPrefix

/** The raw bytes of every text frame the client receives from now on. */
function rawFrames (ws: WebSocket): Buffer[] {
  const frames: Buffer[] = []
  ws.on('message', (data: Buffer) => { frames.push(Buffer.from(data)) })
  return frames
}

async function joined (token: string, groupId: string): Promise<WsClient> {
  const client = await connectWs(app, { token })
  await client.next('chat:sync')
  const ack = await client.request('chat:join_group', { groupId })
  if (ack.type !== 'chat:ack') throw new Error(JSON.stringify(ack.payload))
  return client
}

const ofType = (frames: Buffer[], type: string): Buffer[] => frames.filter((f) => (JSON.parse(f.toString('utf8')) as { type: string }).type === type)

t.test('every subscriber receives the byte-identical frame of a group event', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [bob, carol, dave])
  const clients = [await joined(bob.token, groupId), await joined(carol.token, groupId), await joined(dave.token, groupId)]
  t.teardown(async () => { await Promise.all(clients.map(async (c) => await c.close())) })
  const raws = clients.map((c) => rawFrames(c.ws))
  const sent = await sendMessage(app, alice, groupId, 'one frame for all')
  for (const client of clients) t.equal((await client.next('chat:message')).payload.id, sent.id)
  const [first, ...others] = raws.map((frames) => ofType(frames, 'chat:message'))
  t.equal(first?.length, 1)
  for (const frames of others) t.ok(frames[0]?.equals(first?.[0] as Buffer), 'the same bytes')
})

t.test('reactions: non-reactors share one frame with hasReacted false, each reactor sees hasReacted true', async (t) => {
  const [alice, bob, carol, dave] = [await registerUser(app), await registerUser(app), await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [bob, carol, dave])
  const clients = {
    alice: await joined(alice.token, groupId),
    bob: await joined(bob.token, groupId),
    carol: await joined(carol.token, groupId),
    dave: await joined(dave.token, groupId)
  }
  t.teardown(async () => { await Promise.all(Object.values(clients).map(async (c) => await c.close())) })
  const message = await sendMessage(app, dave, groupId, 'react to me')
  const url = `${api}/groups/${groupId}/chat/messages/${message.id}/reactions`
  t.equal((await app.inject({ method: 'POST', url, headers: alice.auth, payload: { emoji: '👍' } })).statusCode, 200)
  for (const client of Object.values(clients)) await client.next('chat:reactions_updated')
  const raws = Object.fromEntries(Object.entries(clients).map(([name, c]) => [name, rawFrames(c.ws)])) as Record<keyof typeof clients, Buffer[]>
  // Bob adds 🎉: Alice and Bob have reacted (to different emoji), Carol and Dave have not.
  t.equal((await app.inject({ method: 'POST', url, headers: bob.auth, payload: { emoji: '🎉' } })).statusCode, 200)
  const updates = Object.fromEntries(await Promise.all(Object.entries(clients).map(async ([name, c]) => [name, await c.next('chat:reactions_updated')])))
  const hasReacted = (name: string): Record<string, boolean> => Object.fromEntries((updates[name].payload.reactions as Array<{ emoji: string, hasReacted: boolean }>).map((r) => [r.emoji, r.hasReacted]))
  t.same(hasReacted('alice'), { '👍': true, '🎉': false })
  t.same(hasReacted('bob'), { '👍': false, '🎉': true })
  t.same(hasReacted('carol'), { '👍': false, '🎉': false })
  t.same(hasReacted('dave'), { '👍': false, '🎉': false })
  for (const name of ['alice', 'bob', 'carol']) {
    t.match(updates[name].payload.reactions, [{ emoji: '👍', count: 1, users: [alice.user.id] }, { emoji: '🎉', count: 1, users: [bob.user.id] }])
  }
  const carolsFrame = ofType(raws.carol, 'chat:reactions_updated')[0] as Buffer
  t.ok(ofType(raws.dave, 'chat:reactions_updated')[0]?.equals(carolsFrame), 'non-reactors share the same bytes')
  t.notOk(ofType(raws.alice, 'chat:reactions_updated')[0]?.equals(carolsFrame), 'a reactor gets a frame of their own')
})
