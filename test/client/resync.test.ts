/*
 * @parley/client past the server's replay window: more than 1,000 messages missed while
 * disconnected come with chat:resync_required, and the client pages them over REST.
 */
import t from 'tap'
import { collect, contents, history, isSeqOrdered, numbered, pair, startServer } from './harness.ts'

const server = await startServer(t, import.meta.url)

t.test('more than 1,000 missed messages are paged over REST: each once, in order', async (t) => {
  const { alice, bob, groupId } = await pair(t, server)
  const atBob = collect(bob)
  const resyncs: unknown[] = []
  bob.on('chat:resync_required', (payload) => { resyncs.push(payload) })
  await alice.send(groupId, { content: 'seen' })
  await atBob.waitFor(1)
  bob.disconnect()
  const texts = numbered('missed', 1050)
  const auth = { authorization: `Bearer ${alice.tokens?.token ?? ''}` }
  // Sixteen senders at a time, as a busy group sends: the server decides the order (seq).
  const queue = [...texts]
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let content = queue.shift(); content !== undefined; content = queue.shift()) {
      const res = await server.app.inject({ method: 'POST', url: `${server.config.apiPrefix}/groups/${groupId}/chat/messages`, headers: auth, payload: { content } })
      if (res.statusCode !== 201) throw new Error(res.body)
    }
  }))
  await bob.connect()
  await atBob.waitFor(1051, 60_000)
  t.equal(resyncs.length, 1, 'the server asked for a resync')
  t.match(resyncs[0], { groupId })
  t.ok(isSeqOrdered(atBob.messages), 'in seq order')
  t.same(atBob.messages.map((m) => m.id), (await history(bob, groupId)).map((m) => m.id), 'exactly the stored messages, each once, in their order')
  t.same([...contents(atBob.messages)].sort(), ['seen', ...texts].sort(), 'every message sent')
})
