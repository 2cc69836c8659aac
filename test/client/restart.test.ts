/*
 * @parley/client across a restart of the server: the app closes (its sockets get 1001) and a
 * new one starts on the same database and port, as a deploy does.
 */
import t, { type Test } from 'tap'
import { clientOf, collect, contents, history, numbered, signUp, startServer, until } from './harness.ts'

const server = await startServer(t, import.meta.url)

async function pair (t: Test) {
  const alice = clientOf(t, server)
  const bob = clientOf(t, server)
  await signUp(alice, 'alice')
  const bobId = await signUp(bob, 'bob')
  const { group } = await alice.rest.groups.create({ name: 'Restart', memberIds: [bobId] })
  await Promise.all([alice.connect(), bob.connect()])
  await Promise.all([alice.joinGroup(group.id), bob.joinGroup(group.id)])
  return { alice, bob, groupId: group.id }
}

t.test('a server restart mid-burst loses nothing, duplicates nothing and keeps the order', async (t) => {
  const { alice, bob, groupId } = await pair(t)
  const atBob = collect(bob)
  const atAlice = collect(alice)
  const reconnects: boolean[] = []
  bob.on('connected', ({ reconnect }) => { reconnects.push(reconnect) })
  const texts = numbered('deploy', 100)
  const sends = texts.map(async (content) => await alice.send(groupId, { content }))
  await until(() => atBob.messages.length >= 30)
  await server.restart(300)
  await Promise.all(sends)
  await atBob.waitFor(100)
  await atAlice.waitFor(100)
  t.same(reconnects, [true], 'bob reconnected to the new server')
  t.same(contents(atBob.messages), texts, 'bob: each once, in order')
  t.same(contents(atAlice.messages), texts, 'alice: each once, in order')
  t.same(contents(await history(alice, groupId)), texts, 'stored once each')
})

t.test('messages sent while the server is down are stored once it is back', async (t) => {
  const { alice, bob, groupId } = await pair(t)
  const atBob = collect(bob)
  await server.stop()
  t.ok(await until(() => alice.state === 'reconnecting'), 'alice notices')
  const texts = numbered('down', 5)
  const sends = texts.map(async (content) => await alice.send(groupId, { content }))
  t.equal(alice.pending.length, 5, 'queued')
  await server.start()
  await Promise.all(sends)
  t.same(contents(await atBob.waitFor(5)), texts)
  t.same(contents(await history(alice, groupId)), texts)
})
