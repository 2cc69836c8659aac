/*
 * Short-lived access tokens: @parley/client renews them before they expire (a fifth of their
 * lifetime ahead, 2 s here) and re-authenticates the open socket in place with an `auth` frame.
 * Real time is the subject: the SDK's renewal timer and the token's `exp` both run on it.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { clientOf, collect, signUp, startServer } from './harness.ts'

const TTL_SECONDS = 10
const server = await startServer(t, import.meta.url, { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) })

t.test('the access token is renewed before it expires and the socket is re-authenticated in place', async (t) => {
  const alice = clientOf(t, server)
  const bob = clientOf(t, server)
  await signUp(alice, 'alice')
  const bobId = await signUp(bob, 'bob')
  const { group } = await alice.rest.groups.create({ name: 'Expiry', memberIds: [bobId] })
  await Promise.all([alice.connect(), bob.connect()])
  await Promise.all([alice.joinGroup(group.id), bob.joinGroup(group.id)])
  const atBob = collect(bob)
  const firstToken = bob.tokens?.token
  const renewals: number[] = []
  const reauthAcks: unknown[] = []
  const drops: number[] = []
  bob.on('tokens', () => { renewals.push(Date.now()) })
  bob.on('chat:ack', (payload) => { reauthAcks.push(payload) })
  bob.on('disconnected', ({ code }) => { drops.push(code) })
  const started = Date.now()

  // Past the first token's expiry.
  await sleep((TTL_SECONDS + 3) * 1000)
  t.ok(renewals.length >= 1, `renewed ${renewals.length} time(s)`)
  t.ok((renewals[0] ?? Infinity) - started < TTL_SECONDS * 1000, 'before the old token expired')
  t.not(bob.tokens?.token, firstToken, 'a new access token')
  t.ok(reauthAcks.length >= renewals.length, 'the server acknowledged the auth frame on the open socket')
  t.same(drops, [], 'the socket was never dropped')

  await alice.send(group.id, { content: 'after expiry' })
  t.match(await atBob.waitFor(1), [{ content: 'after expiry' }], 'the socket still delivers')
  const me = await bob.rest.auth.me()
  t.equal(me.user.id, bobId, 'REST works with the renewed token')
})
