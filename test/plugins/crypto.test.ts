import t from 'tap'
import Fastify from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { newId, toBin } from '../../src/lib/ids.ts'
import cryptoPlugin from '../../src/plugins/crypto.ts'
import dbPlugin from '../../src/plugins/db.ts'

t.test('the app has a keyring that seals with keys stored in its own database', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const groupId = newId()
  const recordId = newId()
  const sealed = await app.keyring.encrypt(groupId, 'hello from the app', { recordId, field: 'content' })
  t.equal(await app.keyring.decrypt(groupId, sealed, { recordId, field: 'content' }), 'hello from the app')
  const rows = await app.db.selectFrom('group_data_keys').select('version').where('group_id', '=', toBin(groupId)).execute()
  t.same(rows, [{ version: 1 }])
})

t.test('two apps on the same database and master key decrypt each other\'s records', async (t) => {
  const first = await buildTestApp(t, import.meta.url)
  const second = await buildTestApp(t, import.meta.url)
  const groupId = newId()
  const recordId = newId()
  const sealed = await first.keyring.encrypt(groupId, 'shared', { recordId, field: 'content' })
  t.equal(await second.keyring.decrypt(groupId, sealed, { recordId, field: 'content' }), 'shared')
})

t.test('the plugin refuses a master key that is not 32 bytes', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(dbPlugin, { databaseUrl: 'mysql://root@127.0.0.1:3306/unused', poolSize: 1 })
  await t.rejects(async () => { await app.register(cryptoPlugin, { masterKey: Buffer.alloc(16) }) }, /32 bytes/)
})

t.test('the plugin needs the db plugin', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await t.rejects(async () => { await app.register(cryptoPlugin, { masterKey: Buffer.alloc(32, 1) }) }, /dependency 'db'/)
})
