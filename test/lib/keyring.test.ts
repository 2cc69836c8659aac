import t from 'tap'
import { createDecipheriv, randomBytes } from 'node:crypto'
import { testConfig } from '../helpers/app.ts'
import { createDatabase } from '../../db/connection.ts'
import { newId, toBin } from '../../src/lib/ids.ts'
import { createKeyring, DecryptionError, type Keyring, type Sealed } from '../../src/lib/keyring.ts'

const config = await testConfig(import.meta.url)
const { db } = createDatabase(config.databaseUrl, 10)
t.teardown(async () => { await db.destroy() })
const masterKey = config.encryptionMasterKey

/** A keyring as one server instance holds it: its own cache over the shared database. */
const instance = (options: { masterKey?: Buffer, newestVersionTtlMs?: number } = {}): Keyring =>
  createKeyring({ db, masterKey, ...options })

const keyRows = async (groupId: string) => await db.selectFrom('group_data_keys')
  .selectAll().where('group_id', '=', toBin(groupId)).orderBy('version').execute()

const content = (recordId: string) => ({ recordId, field: 'content' })

/** AES-256-GCM open of iv(12) | tag(16) | data, written from the documented format, not from the keyring. */
function openByHand (key: Buffer, sealed: Buffer, aad: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12))
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(sealed.subarray(12, 28))
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8')
}

function flipByte (sealed: Sealed, index: number): Sealed {
  const ciphertext = Buffer.from(sealed.ciphertext)
  ciphertext[index] = (ciphertext[index] ?? 0) ^ 0x01
  return { ...sealed, ciphertext }
}

t.test('a value encrypted for a record decrypts back to the same text', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  for (const text of ['hello', '', 'Grüße 👋 東京タワー', 'x'.repeat(10_000)]) {
    const sealed = await keyring.encrypt(groupId, text, content(recordId))
    t.equal(sealed.keyVersion, 1)
    t.equal(await keyring.decrypt(groupId, sealed, content(recordId)), text)
  }
})

t.test('the ciphertext is iv | tag | data with a fresh IV each time, and never holds the plaintext', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const text = 'the secret plan is at noon'
  const a = await keyring.encrypt(groupId, text, content(recordId))
  const b = await keyring.encrypt(groupId, text, content(recordId))
  t.equal(a.ciphertext.length, 12 + 16 + Buffer.byteLength(text))
  t.not(a.ciphertext.subarray(0, 12).toString('hex'), b.ciphertext.subarray(0, 12).toString('hex'))
  t.not(a.ciphertext.toString('hex'), b.ciphertext.toString('hex'))
  t.equal(a.ciphertext.indexOf(Buffer.from('secret')), -1)
})

t.test('a thousand encryptions use a thousand different IVs', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const ivs = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const sealed = await keyring.encrypt(groupId, 'same text', content(newId()))
    ivs.add(sealed.ciphertext.subarray(0, 12).toString('hex'))
  }
  t.equal(ivs.size, 1000)
})

t.test('a ciphertext with any byte flipped does not decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const sealed = await keyring.encrypt(groupId, 'do not touch', content(recordId))
  for (const index of [0, 11, 12, 27, 28, sealed.ciphertext.length - 1]) {
    await t.rejects(keyring.decrypt(groupId, flipByte(sealed, index), content(recordId)), DecryptionError, `byte ${index}`)
  }
  await t.rejects(keyring.decrypt(groupId, { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 20) }, content(recordId)), DecryptionError)
})

t.test('a ciphertext copied to another record id does not decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const sealed = await keyring.encrypt(groupId, 'mine', content(newId()))
  await t.rejects(keyring.decrypt(groupId, sealed, content(newId())), DecryptionError)
})

t.test('a ciphertext copied to another field of the same record does not decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const sealed = await keyring.encrypt(groupId, '{"a":1}', { recordId, field: 'metadata' })
  await t.rejects(keyring.decrypt(groupId, sealed, { recordId, field: 'content' }), DecryptionError)
  await t.rejects(keyring.decrypt(groupId, sealed, { recordId, field: 'edit:1' }), DecryptionError)
})

t.test('a ciphertext copied to another group does not decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const otherGroupId = newId()
  const recordId = newId()
  await keyring.encrypt(otherGroupId, 'the other group has a key too', content(newId()))
  const sealed = await keyring.encrypt(groupId, 'group secret', content(recordId))
  await t.rejects(keyring.decrypt(otherGroupId, sealed, content(recordId)), DecryptionError)
  await t.rejects(keyring.decrypt(newId(), sealed, content(recordId)), DecryptionError, 'a group without keys')
})

t.test('a record that claims another key version does not decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const sealed = await keyring.encrypt(groupId, 'v1 text', content(recordId))
  await keyring.rotate(groupId)
  await t.rejects(keyring.decrypt(groupId, { ...sealed, keyVersion: 2 }, content(recordId)), DecryptionError)
  await t.rejects(keyring.decrypt(groupId, { ...sealed, keyVersion: 9 }, content(recordId)), DecryptionError)
  await t.rejects(keyring.decrypt(groupId, { ...sealed, keyVersion: 0 }, content(recordId)), DecryptionError)
})

t.test('the first encryptions of a new group racing on 20 instances create exactly one key', async (t) => {
  const groupId = newId()
  const records = Array.from({ length: 20 }, () => newId())
  const sealed = await Promise.all(records.map(async (recordId, i) => await instance().encrypt(groupId, `message ${i}`, content(recordId))))
  const rows = await keyRows(groupId)
  t.equal(rows.length, 1)
  t.equal(rows[0]?.version, 1)
  t.ok(sealed.every((s) => s.keyVersion === 1))
  const reader = instance()
  const texts = await Promise.all(sealed.map(async (s, i) => await reader.decrypt(groupId, s, content(records[i] ?? ''))))
  t.same(texts, records.map((_, i) => `message ${i}`))
})

t.test('20 parallel encryptions on one instance for a new group create exactly one key', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const records = Array.from({ length: 20 }, () => newId())
  const sealed = await Promise.all(records.map(async (recordId) => await keyring.encrypt(groupId, recordId, content(recordId))))
  t.equal((await keyRows(groupId)).length, 1)
  for (const [i, s] of sealed.entries()) t.equal(await keyring.decrypt(groupId, s, content(records[i] ?? '')), records[i])
})

t.test('after a rotation new records use the new version and older records still decrypt', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const oldId = newId()
  const old = await keyring.encrypt(groupId, 'before rotation', content(oldId))
  t.equal(old.keyVersion, 1)
  t.equal(await keyring.rotate(groupId), 2)
  const newer = await keyring.encrypt(groupId, 'after rotation', content(newId()))
  t.equal(newer.keyVersion, 2)
  t.equal(await keyring.decrypt(groupId, old, content(oldId)), 'before rotation')
  t.equal(await instance().decrypt(groupId, old, content(oldId)), 'before rotation', 'on a fresh instance too')
  t.same((await keyRows(groupId)).map((r) => r.version), [1, 2])
})

t.test('rotating a group without a key creates its first version', async (t) => {
  const groupId = newId()
  t.equal(await instance().rotate(groupId), 1)
  t.equal((await instance().encrypt(groupId, 'x', content(newId()))).keyVersion, 1)
})

t.test('concurrent rotations on several instances each add a distinct version', async (t) => {
  const groupId = newId()
  await instance().encrypt(groupId, 'x', content(newId()))
  const versions = await Promise.all(Array.from({ length: 5 }, async () => await instance().rotate(groupId)))
  t.same([...versions].sort(), [2, 3, 4, 5, 6])
  t.same((await keyRows(groupId)).map((r) => r.version), [1, 2, 3, 4, 5, 6])
})

t.test('another instance keeps its cached newest version until the cache expires, which stays decryptable', async (t) => {
  const groupId = newId()
  const cachedLong = instance()
  const cachedNever = instance({ newestVersionTtlMs: 0 })
  await cachedLong.encrypt(groupId, 'warm the cache', content(newId()))
  await cachedNever.encrypt(groupId, 'warm the cache', content(newId()))
  t.equal(await instance().rotate(groupId), 2)

  const stale = await cachedLong.encrypt(groupId, 'still v1', content('r1'))
  t.equal(stale.keyVersion, 1)
  t.equal(await instance().decrypt(groupId, stale, content('r1')), 'still v1')
  t.equal((await cachedNever.encrypt(groupId, 'now v2', content('r2'))).keyVersion, 2)
})

t.test('rotateAll adds a version to every group that has a key', async (t) => {
  const keyring = instance()
  const before = (await db.selectFrom('group_data_keys').select('group_id').distinct().execute()).length
  const groupId = newId()
  const sealed = await keyring.encrypt(groupId, 'rotate me', content('r'))
  const rotated = await keyring.rotateAll()
  t.equal(rotated, before + 1)
  t.same((await keyRows(groupId)).map((r) => r.version), [1, 2])
  t.equal((await keyring.encrypt(groupId, 'y', content('s'))).keyVersion, 2)
  t.equal(await keyring.decrypt(groupId, sealed, content('r')), 'rotate me')
})

t.test('the stored key is wrapped by the master key, bound to its group and version, and is not the raw key', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const text = 'plaintext that must not be stored'
  const sealed = await keyring.encrypt(groupId, text, content(recordId))
  const [row] = await keyRows(groupId)
  if (row === undefined) throw new Error('no key row')
  t.equal(row.wrapped_key.length, 12 + 16 + 32)

  const unwrap = (aad: string) => {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, row.wrapped_key.subarray(0, 12))
    decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(row.wrapped_key.subarray(12, 28))
    return Buffer.concat([decipher.update(row.wrapped_key.subarray(28)), decipher.final()])
  }
  const rawKey = unwrap(`parley:group-data-key|${groupId}|1`)
  t.equal(rawKey.length, 32)
  t.equal(row.wrapped_key.indexOf(rawKey), -1, 'the raw key is not in the stored bytes')
  t.throws(() => unwrap(`parley:group-data-key|${newId()}|1`), 'the wrapped key is bound to its group')
  t.throws(() => unwrap(`parley:group-data-key|${groupId}|2`), 'the wrapped key is bound to its version')
  t.equal(openByHand(rawKey, sealed.ciphertext, `${groupId}|${recordId}|1|content`), text, 'AAD is group|record|version|field')

  const everything = Buffer.concat((await db.selectFrom('group_data_keys').selectAll().execute())
    .flatMap((r) => [r.group_id, r.wrapped_key]))
  t.equal(everything.indexOf(Buffer.from('plaintext')), -1, 'the table holds no plaintext')
})

t.test('a second instance with a fresh cache decrypts what the first encrypted', async (t) => {
  const groupId = newId()
  const recordId = newId()
  const sealed = await instance().encrypt(groupId, 'across servers', content(recordId))
  t.equal(await instance().decrypt(groupId, sealed, content(recordId)), 'across servers')
})

t.test('a keyring with a different master key cannot unwrap the group keys', async (t) => {
  const groupId = newId()
  const recordId = newId()
  const sealed = await instance().encrypt(groupId, 'for the right key only', content(recordId))
  const wrong = instance({ masterKey: randomBytes(32) })
  await t.rejects(wrong.decrypt(groupId, sealed, content(recordId)), DecryptionError)
  await t.rejects(wrong.encrypt(groupId, 'x', content(newId())), DecryptionError)
  await t.rejects(wrong.rotate(groupId), DecryptionError, 'nor add a version no server could unwrap')
  t.equal((await keyRows(groupId)).length, 1)
})

t.test('a master key that is not 32 bytes is refused', async (t) => {
  t.throws(() => createKeyring({ db, masterKey: randomBytes(16) }), /32 bytes/)
  t.throws(() => createKeyring({ db, masterKey: Buffer.alloc(0) }), /32 bytes/)
})

t.test('a group id is the same group however its letters are cased', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const sealed = await keyring.encrypt(groupId.toUpperCase(), 'case', content(recordId.toUpperCase()))
  t.equal(await instance().decrypt(groupId, sealed, content(recordId)), 'case')
  t.same(keyring.indexTokens(groupId.toUpperCase(), 'case'), keyring.indexTokens(groupId, 'case'))
})

t.test('destroying a group\'s keys makes its records undecryptable', async (t) => {
  const groupId = newId()
  const recordId = newId()
  const keyring = instance()
  const sealed = await keyring.encrypt(groupId, 'shred me', content(recordId))
  await keyring.rotate(groupId)
  t.equal(await keyring.destroyGroupKeys(groupId), 2)
  t.equal((await keyRows(groupId)).length, 0)
  await t.rejects(keyring.decrypt(groupId, sealed, content(recordId)), DecryptionError)
  await t.rejects(instance().decrypt(groupId, sealed, content(recordId)), DecryptionError)
})

t.test('a record opened before opens again to its new text once it is sealed anew (an edit), and a flipped byte still fails after a successful open', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const first = await keyring.encrypt(groupId, 'first words', content(recordId))
  t.equal(await keyring.decrypt(groupId, first, content(recordId)), 'first words')
  t.equal(await keyring.decrypt(groupId, first, content(recordId)), 'first words', 'again, from the opened records')
  const edited = await keyring.encrypt(groupId, 'edited words', content(recordId))
  t.equal(await keyring.decrypt(groupId, edited, content(recordId)), 'edited words')
  t.same(await keyring.decryptAll(groupId, [{ sealed: first, context: content(recordId) }, { sealed: edited, context: content(recordId) }]), ['first words', 'edited words'])
  for (const index of [0, 12, first.ciphertext.length - 1]) {
    await t.rejects(keyring.decrypt(groupId, flipByte(first, index), content(recordId)), DecryptionError, `byte ${index}`)
    await t.rejects(keyring.decryptAll(groupId, [{ sealed: flipByte(first, index), context: content(recordId) }]), DecryptionError, `byte ${index}, in a batch`)
  }
  await t.rejects(keyring.decrypt(groupId, first, content(newId())), DecryptionError, 'another record')
  await t.rejects(keyring.decrypt(groupId, first, { recordId, field: 'metadata' }), DecryptionError, 'another field')
})

t.test('destroying a group\'s keys also forgets the records this instance opened', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const recordId = newId()
  const sealed = await keyring.encrypt(groupId, 'shred me too', content(recordId))
  t.equal(await keyring.decrypt(groupId, sealed, content(recordId)), 'shred me too')
  await keyring.destroyGroupKeys(groupId)
  await t.rejects(keyring.decrypt(groupId, sealed, content(recordId)), DecryptionError)
})

t.test('index tokens are distinct 16-byte values, one per distinct term', async (t) => {
  const tokens = instance().indexTokens(newId(), 'Hello hello HELLO world')
  t.equal(tokens.length, 2)
  t.ok(tokens.every((token) => token.length === 16))
  t.not(tokens[0]?.toString('hex'), tokens[1]?.toString('hex'))
})

t.test('query tokens fold case and accents to match index tokens', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const index = new Set(keyring.indexTokens(groupId, 'Meet me at the Café tonight').map((b) => b.toString('hex')))
  for (const query of ['cafe', 'CAFÉ', 'café TONIGHT']) {
    const tokens = keyring.queryTokens(groupId, query)
    t.ok(tokens.length > 0 && tokens.every((b) => index.has(b.toString('hex'))), query)
  }
  t.notOk(keyring.queryTokens(groupId, 'coffee').every((b) => index.has(b.toString('hex'))))
})

t.test('a CJK query matches by bigrams', async (t) => {
  const keyring = instance()
  const groupId = newId()
  const index = new Set(keyring.indexTokens(groupId, '東京タワーで会いましょう').map((b) => b.toString('hex')))
  const query = keyring.queryTokens(groupId, '東京')
  t.equal(query.length, 1)
  t.ok(index.has(query[0]?.toString('hex') ?? ''))
})

t.test('the same text gives the same tokens in one group, on any instance, and different tokens in another group', async (t) => {
  const groupId = newId()
  const a = instance().indexTokens(groupId, 'quarterly report')
  const b = instance().indexTokens(groupId, 'quarterly report')
  t.same(a.map((x) => x.toString('hex')), b.map((x) => x.toString('hex')))
  const other = new Set(instance().indexTokens(newId(), 'quarterly report').map((x) => x.toString('hex')))
  t.ok(a.every((x) => !other.has(x.toString('hex'))))
  const wrongMaster = new Set(instance({ masterKey: randomBytes(32) }).indexTokens(groupId, 'quarterly report').map((x) => x.toString('hex')))
  t.ok(a.every((x) => !wrongMaster.has(x.toString('hex'))), 'tokens are keyed by the master key')
})

t.test('one instance keeps the tokens of recent words apart per group', async (t) => {
  const keyring = instance()
  const [first, second] = [newId(), newId()]
  const a = keyring.indexTokens(first, 'quarterly report').map((x) => x.toString('hex'))
  const again = keyring.indexTokens(first, 'report quarterly').map((x) => x.toString('hex'))
  t.same(new Set(again), new Set(a), 'the same words in the same group give the same tokens')
  const other = new Set(keyring.indexTokens(second, 'quarterly report').map((x) => x.toString('hex')))
  t.ok(a.every((x) => !other.has(x)), 'a word seen in one group is tokenized anew for another')
  t.same(keyring.queryTokens(first.toUpperCase(), 'QUARTERLY').map((x) => x.toString('hex')), [a[0]], 'however the group id is spelled')
})

t.test('a query without a searchable word has no tokens', async (t) => {
  const keyring = instance()
  t.same(keyring.queryTokens(newId(), ''), [])
  t.same(keyring.queryTokens(newId(), ' ?! … '), [])
})

t.test('tokens are not the plain hash of the term', async (t) => {
  const { createHash } = await import('node:crypto')
  const [token] = instance().indexTokens(newId(), 'password')
  t.not(token?.toString('hex'), createHash('sha256').update('password').digest().subarray(0, 16).toString('hex'))
})
