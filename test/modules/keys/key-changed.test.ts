import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { createGroup } from '../../helpers/api.ts'
import { connected } from '../../helpers/ws.ts'

// chat:key_changed reaches peers live on every instance: two apps share the database and Redis.
const a = await buildTestApp(t, import.meta.url)
const b = await buildTestApp(t, import.meta.url)
const api = a.config.apiPrefix

t.test('a key uploaded on one instance is announced live to a peer connected to the other, once', async (t) => {
  const alice = await registerUser(a)
  const bob = await registerUser(a)
  const stranger = await registerUser(a)
  // Two shared groups: the peer still hears each change once.
  await createGroup(a, alice, [bob])
  await createGroup(a, bob, [alice])
  const bobOnB = await connected(b, bob)
  const strangerOnB = await connected(b, stranger)
  const aliceOnB = await connected(b, alice)
  t.teardown(async () => { await Promise.all([bobOnB.close(), strangerOnB.close(), aliceOnB.close()]) })

  const publicKey = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const res = await a.inject({ method: 'POST', url: `${api}/chat/encryption/keys`, headers: alice.auth, payload: { publicKey, deviceId: 'phone', keyId: 'alice-phone-1' } })
  t.equal(res.statusCode, 201, res.body)
  const { fingerprint } = res.json().data as { fingerprint: string }

  const event = await bobOnB.next('chat:key_changed')
  t.match(event.payload, { userId: alice.user.id, deviceId: 'phone', keyId: 'alice-phone-1', change: 'added', fingerprint, previousKeyId: null })
  t.match(event.payload.changedAt, /^\d{4}-\d{2}-\d{2}T/)
  t.match((await aliceOnB.next('chat:key_changed')).payload, { keyId: 'alice-phone-1' }, 'the owner\'s other device hears it too')
  t.ok(await bobOnB.quiet('chat:key_changed', 500), 'exactly once, whatever the number of shared groups')
  t.ok(await strangerOnB.quiet('chat:key_changed', 200), 'a user sharing no group hears nothing')
})

t.test('a revocation on one instance is announced on the other', async (t) => {
  const alice = await registerUser(b)
  const bob = await registerUser(b)
  await createGroup(b, alice, [bob])
  const publicKey = Buffer.from((generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64')
  const uploaded = await b.inject({ method: 'POST', url: `${api}/chat/encryption/keys`, headers: alice.auth, payload: { publicKey, deviceId: 'laptop', keyType: 'ed25519' } })
  const { keyId } = uploaded.json().data as { keyId: string }
  const bobOnA = await connected(a, bob)
  t.teardown(async () => { await bobOnA.close() })
  t.equal((await b.inject({ method: 'DELETE', url: `${api}/chat/encryption/keys/${keyId}`, headers: alice.auth })).statusCode, 200)
  t.match((await bobOnA.next('chat:key_changed')).payload, { userId: alice.user.id, keyId, deviceId: 'laptop', change: 'revoked' })
})
