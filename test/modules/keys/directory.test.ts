import t from 'tap'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { EncryptionKey, KeyChange, UploadKeyResponse } from '../../../schemas/keys.ts'
import { HTTP_RATE_LIMITS } from '../../../src/plugins/rate-limit.ts'
import { parsePublicKey } from '../../../src/modules/keys/key-material.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { call, createChatGroup, dataOf } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

// The end-to-end key directory (seed 05 §6): device keys, verification, the append-only log.
const app = await buildTestApp(t, import.meta.url)

const rawOf = (key: KeyObject): string => Buffer.from((key.export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64')
const pemOf = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString()
/** The documented fingerprint, computed here independently: SHA-256 hex of the SPKI DER. */
const spkiFingerprint = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')
const x25519 = (): KeyObject => generateKeyPairSync('x25519').publicKey

async function upload (who: TestUser, body: Record<string, unknown>): Promise<{ status: number, data: UploadKeyResponse }> {
  const res = await call(app, who, 'POST', '/chat/encryption/keys', body)
  if (res.statusCode >= 300) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
  return { status: res.statusCode, data: dataOf<UploadKeyResponse>(res) }
}

async function keysOf (viewer: TestUser, owner: TestUser): Promise<EncryptionKey[]> {
  return dataOf<{ keys: EncryptionKey[] }>(await call(app, viewer, 'GET', `/chat/encryption/keys/${owner.user.id}`)).keys
}

async function changesOf (viewer: TestUser, owner: TestUser, query = ''): Promise<{ changes: KeyChange[], hasMore: boolean, nextCursor: number | null }> {
  return dataOf(await call(app, viewer, 'GET', `/chat/encryption/keys/${owner.user.id}/changes${query}`))
}

/** Two users who share a group, and one who shares none with them. */
async function people (): Promise<{ alice: TestUser, bob: TestUser, stranger: TestUser }> {
  const group = await createChatGroup(app, { memberCount: 1 })
  return { alice: group.owner, bob: group.members[0]!, stranger: group.outsider }
}

t.test('the fingerprint is the SHA-256 of the SPKI DER: a raw key and its PEM have the same one', async (t) => {
  const key = x25519()
  t.equal(parsePublicKey(rawOf(key)).fingerprint, spkiFingerprint(key))
  t.equal(parsePublicKey(pemOf(key)).fingerprint, spkiFingerprint(key))
  const ed = generateKeyPairSync('ed25519').publicKey
  t.equal(parsePublicKey(rawOf(ed), 'ed25519').fingerprint, spkiFingerprint(ed))
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
  t.match(parsePublicKey(pemOf(ec)), { keyType: 'ec-p256', fingerprint: spkiFingerprint(ec) })
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
  t.match(parsePublicKey(pemOf(rsa)), { keyType: 'rsa', fingerprint: spkiFingerprint(rsa) })
})

t.test('a device key is uploaded: 201, added, with a server-made keyId and the fingerprint', async (t) => {
  const { alice } = await people()
  const key = x25519()
  const { status, data } = await upload(alice, { publicKey: rawOf(key), deviceId: 'phone-1' })
  t.equal(status, 201)
  t.match(data, { deviceId: 'phone-1', keyType: 'x25519', fingerprint: spkiFingerprint(key), change: 'added', replacedKeyId: null })
  t.match(data.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'a UUIDv7')
  const [listed] = await keysOf(alice, alice)
  t.match(listed, { keyId: data.keyId, deviceId: 'phone-1', publicKey: rawOf(key), fingerprint: spkiFingerprint(key), isActive: true, isVerified: false })
})

t.test('uploading the device\'s current key again changes nothing: 200, change null', async (t) => {
  const { alice } = await people()
  const key = pemOf(x25519())
  const first = await upload(alice, { publicKey: key, deviceId: 'laptop', keyId: 'k1' })
  const again = await upload(alice, { publicKey: key, deviceId: 'laptop', keyId: 'k1' })
  t.equal(again.status, 200)
  t.match(again.data, { keyId: 'k1', change: null, fingerprint: first.data.fingerprint })
  t.equal((await changesOf(alice, alice)).changes.length, 1, 'one change in the log')
})

t.test('a new key for the same device replaces the old one', async (t) => {
  const { alice } = await people()
  const old = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  const other = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'tablet' })
  const next = x25519()
  const replaced = await upload(alice, { publicKey: rawOf(next), deviceId: 'phone' })
  t.equal(replaced.status, 201)
  t.match(replaced.data, { change: 'replaced', replacedKeyId: old.data.keyId, fingerprint: spkiFingerprint(next) })
  const active = await keysOf(alice, alice)
  t.same(active.map((k) => k.keyId).sort(), [other.data.keyId, replaced.data.keyId].sort(), 'only the active keys: one per device')
})

t.test('a keyId is never reused for another key', async (t) => {
  const { alice } = await people()
  await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone', keyId: 'mine' })
  const res = await call(app, alice, 'POST', '/chat/encryption/keys', { publicKey: rawOf(x25519()), deviceId: 'phone', keyId: 'mine' })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'CONFLICT')
})

t.test('what is not an accepted public key is a VALIDATION_ERROR on publicKey', async (t) => {
  const { alice } = await people()
  const pair = generateKeyPairSync('x25519')
  const bad = [
    { publicKey: 'not a key' },
    { publicKey: Buffer.alloc(31, 1).toString('base64') },
    { publicKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    { publicKey: pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) },
    { publicKey: pemOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey) },
    { publicKey: pemOf(pair.publicKey), keyType: 'ed25519' },
    { publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }
  ]
  for (const body of bad) {
    const res = await call(app, alice, 'POST', '/chat/encryption/keys', { deviceId: 'd', ...body })
    t.equal(res.statusCode, 400, body.publicKey.slice(0, 40))
    t.equal((res.json().validationErrors as Array<{ field: string }>)[0]?.field, 'publicKey')
  }
  t.equal((await call(app, alice, 'POST', '/chat/encryption/keys', { publicKey: rawOf(x25519()), deviceId: 'has space' })).statusCode, 400, 'deviceId is checked too')
  t.same(await keysOf(alice, alice), [], 'nothing stored')
})

t.test('a user who shares a group reads the keys; a stranger gets 403 and an unknown user 404', async (t) => {
  const { alice, bob, stranger } = await people()
  const { data } = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  t.same((await keysOf(bob, alice)).map((k) => k.keyId), [data.keyId])
  t.equal((await call(app, stranger, 'GET', `/chat/encryption/keys/${alice.user.id}`)).statusCode, 403)
  t.equal((await call(app, stranger, 'GET', `/chat/encryption/keys/${alice.user.id}/changes`)).statusCode, 403)
  t.equal((await call(app, bob, 'GET', '/chat/encryption/keys/4000000000')).statusCode, 404)
})

t.test('a peer verifies a key by its fingerprint; the key then reads as verified by them only', async (t) => {
  const { alice, bob } = await people()
  const carol = await registerUser(app)
  dataOf(await call(app, alice, 'POST', `/groups/direct/${carol.user.id}`))
  const { data } = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  const typed = data.fingerprint.toUpperCase().match(/.{2}/g)?.join(':') ?? ''
  const res = await call(app, bob, 'POST', '/chat/encryption/verify', { userId: alice.user.id, keyId: data.keyId, fingerprint: typed })
  t.equal(res.statusCode, 200, res.body)
  t.match(dataOf(res), { verified: true, userId: alice.user.id, keyId: data.keyId, fingerprint: data.fingerprint })
  t.match(await keysOf(bob, alice), [{ keyId: data.keyId, isVerified: true }])
  t.match(await keysOf(carol, alice), [{ keyId: data.keyId, isVerified: false, verifiedAt: null }], 'a direct chat counts as a shared group')
})

t.test('a verification with the wrong fingerprint is refused', async (t) => {
  const { alice, bob } = await people()
  const { data } = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  const res = await call(app, bob, 'POST', '/chat/encryption/verify', { userId: alice.user.id, keyId: data.keyId, fingerprint: 'ab'.repeat(32) })
  t.equal(res.statusCode, 400)
  t.equal((res.json().validationErrors as Array<{ field: string }>)[0]?.field, 'fingerprint')
  t.match(await keysOf(bob, alice), [{ isVerified: false }])
})

t.test('a replaced key\'s verification does not carry over to its replacement', async (t) => {
  const { alice, bob } = await people()
  const old = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  dataOf(await call(app, bob, 'POST', '/chat/encryption/verify', { userId: alice.user.id, keyId: old.data.keyId, fingerprint: old.data.fingerprint }))
  const next = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  t.match(await keysOf(bob, alice), [{ keyId: next.data.keyId, isVerified: false }])
  const late = await call(app, bob, 'POST', '/chat/encryption/verify', { userId: alice.user.id, keyId: old.data.keyId, fingerprint: old.data.fingerprint })
  t.equal(late.statusCode, 409, 'the replaced key cannot be verified any more')
})

t.test('a user revokes their key; revoking again changes nothing; others\' keys are not theirs to revoke', async (t) => {
  const { alice, bob } = await people()
  const { data } = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone', keyId: 'shared-name' })
  await upload(bob, { publicKey: rawOf(x25519()), deviceId: 'phone', keyId: 'bobs' })
  t.equal((await call(app, alice, 'DELETE', '/chat/encryption/keys/bobs')).statusCode, 404)
  const res = await call(app, alice, 'DELETE', `/chat/encryption/keys/${data.keyId}`)
  t.equal(res.statusCode, 200)
  t.match(dataOf(res), { revoked: true, keyId: 'shared-name' })
  t.same(await keysOf(bob, alice), [])
  t.equal((await call(app, alice, 'DELETE', `/chat/encryption/keys/${data.keyId}`)).statusCode, 200)
  t.same((await changesOf(alice, alice)).changes.map((c) => c.change), ['added', 'revoked'], 'one revocation in the log')
  t.equal((await keysOf(alice, bob)).length, 1, 'Bob\'s key is untouched')
})

t.test('the change log lists added, replaced and revoked in order, and is never rewritten', async (t) => {
  const { alice, bob } = await people()
  const first = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  const before = (await changesOf(bob, alice)).changes
  const second = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  dataOf(await call(app, alice, 'DELETE', `/chat/encryption/keys/${second.data.keyId}`))
  const { changes } = await changesOf(bob, alice)
  t.match(changes, [
    { change: 'added', keyId: first.data.keyId, deviceId: 'phone', fingerprint: first.data.fingerprint, previousKeyId: null },
    { change: 'replaced', keyId: second.data.keyId, previousKeyId: first.data.keyId, fingerprint: second.data.fingerprint },
    { change: 'revoked', keyId: second.data.keyId, fingerprint: second.data.fingerprint }
  ])
  t.same(changes[0], before[0], 'the first entry is exactly as it was')
  t.ok(changes[0]!.id < changes[1]!.id && changes[1]!.id < changes[2]!.id, 'ids increase')

  const page = await changesOf(bob, alice, '?limit=2')
  t.equal(page.changes.length, 2)
  t.equal(page.hasMore, true)
  const rest = await changesOf(bob, alice, `?after=${page.nextCursor ?? 0}`)
  t.same(rest.changes.map((c) => c.change), ['revoked'])
  t.equal(rest.hasMore, false)
  t.equal(rest.nextCursor, null)
})

t.test('every change is published as chat:key_changed to the owner and everyone sharing a group, not to strangers', async (t) => {
  const { alice, bob, stranger } = await people()
  const toBob = recordEvents(app, { userId: bob.user.id }, t)
  const toAlice = recordEvents(app, { userId: alice.user.id }, t)
  const toStranger = recordEvents(app, { userId: stranger.user.id }, t)
  const first = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  const second = await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'phone' })
  dataOf(await call(app, alice, 'DELETE', `/chat/encryption/keys/${second.data.keyId}`))
  const seen = eventsOfType(toBob, 'chat:key_changed').map((e) => e.payload)
  t.match(seen, [
    { userId: alice.user.id, deviceId: 'phone', keyId: first.data.keyId, change: 'added', fingerprint: first.data.fingerprint },
    { userId: alice.user.id, deviceId: 'phone', keyId: second.data.keyId, change: 'replaced', previousKeyId: first.data.keyId },
    { userId: alice.user.id, keyId: second.data.keyId, change: 'revoked' }
  ])
  t.equal(eventsOfType(toAlice, 'chat:key_changed').length, 3, 'the owner\'s other devices hear it')
  t.same(eventsOfType(toStranger, 'chat:key_changed'), [], 'a stranger hears nothing')
  await upload(alice, { publicKey: rawOf(x25519()), deviceId: 'tablet' })
  await upload(alice, { publicKey: pemOf(x25519()), deviceId: 'tablet', keyId: 'x' })
  t.equal(eventsOfType(toBob, 'chat:key_changed').length, 5)
})

t.test('the key routes have their own rate-limit category', async (t) => {
  const { alice } = await people()
  const limit = HTTP_RATE_LIMITS.keys
  for (let i = 0; i < limit; i++) {
    const res = await call(app, alice, 'GET', `/chat/encryption/keys/${alice.user.id}`)
    if (res.statusCode !== 200) throw new Error(`request ${i + 1} answered ${res.statusCode}`)
  }
  const refused = await call(app, alice, 'GET', `/chat/encryption/keys/${alice.user.id}`)
  t.equal(refused.statusCode, 429)
  t.match(refused.json().details, { limit })
  t.equal((await call(app, alice, 'GET', '/auth/me')).statusCode, 200, 'other routes keep their own budget')
})

t.test('the key routes need a token', async (t) => {
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/chat/encryption/keys`, payload: { publicKey: rawOf(x25519()), deviceId: 'd' } })
  t.equal(res.statusCode, 401)
})
