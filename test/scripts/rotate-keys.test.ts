import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { TEST_JWT_SECRET, TEST_MASTER_KEY, testConfig } from '../helpers/app.ts'
import { createDatabase } from '../../db/connection.ts'
import { newId, toBin } from '../../src/lib/ids.ts'
import { createKeyring } from '../../src/lib/keyring.ts'

const SCRIPT = fileURLToPath(new URL('../../scripts/rotate-keys.ts', import.meta.url))
const config = await testConfig(import.meta.url)
const { db } = createDatabase(config.databaseUrl, 5)
t.teardown(async () => { await db.destroy() })

interface Run { code: number, stdout: string, stderr: string }

/** Runs the script as `npm run keys:rotate -- …` would, against the test database. */
async function rotateKeys (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: config.databaseUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY,
        ...env
      }
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

async function createGroup (): Promise<string> {
  const id = newId()
  await db.insertInto('mirror_groups').values({
    id: toBin(id), name: 'Rotation', description: null, type: 'group', avatar_url: null, created_by: null, direct_key: null
  }).execute()
  return id
}

const versionsOf = async (groupId: string): Promise<number[]> =>
  (await db.selectFrom('group_data_keys').select('version').where('group_id', '=', toBin(groupId)).orderBy('version').execute())
    .map((r) => r.version)

const content = (recordId: string) => ({ recordId, field: 'content' })

t.test('--group rotates that group: new records use the new version and old records still decrypt', async (t) => {
  const groupId = await createGroup()
  const recordId = newId()
  const old = await createKeyring({ db, masterKey: config.encryptionMasterKey }).encrypt(groupId, 'before', content(recordId))
  const otherGroupId = await createGroup()
  await createKeyring({ db, masterKey: config.encryptionMasterKey }).encrypt(otherGroupId, 'untouched', content(newId()))

  const run = await rotateKeys(['--group', groupId])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, `Rotated group ${groupId}: new records use key version 2`)
  t.same(await versionsOf(groupId), [1, 2])
  t.same(await versionsOf(otherGroupId), [1], 'other groups are not rotated')

  const fresh = createKeyring({ db, masterKey: config.encryptionMasterKey })
  t.equal((await fresh.encrypt(groupId, 'after', content(newId()))).keyVersion, 2)
  t.equal(await fresh.decrypt(groupId, old, content(recordId)), 'before')
})

t.test('--all rotates every group that has a key and says how many', async (t) => {
  const keyring = createKeyring({ db, masterKey: config.encryptionMasterKey })
  const groups = [await createGroup(), await createGroup()]
  const sealed = await Promise.all(groups.map(async (g) => await keyring.encrypt(g, `text of ${g}`, content(g))))
  const keyed = (await db.selectFrom('group_data_keys').select('group_id').distinct().execute()).length
  const before = await Promise.all(groups.map(versionsOf))

  const run = await rotateKeys(['--all'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, `Rotated ${keyed} groups`)
  for (const [i, groupId] of groups.entries()) {
    t.same(await versionsOf(groupId), [...(before[i] ?? []), (before[i]?.length ?? 0) + 1])
    const record = sealed[i]
    if (record !== undefined) t.equal(await createKeyring({ db, masterKey: config.encryptionMasterKey }).decrypt(groupId, record, content(groupId)), `text of ${groupId}`)
  }
})

t.test('without arguments it exits non-zero with the usage', async (t) => {
  const run = await rotateKeys([])
  t.equal(run.code, 2)
  t.match(run.stderr, /Give --group <uuid> or --all/)
  t.match(run.stderr, /Usage: npm run keys:rotate -- --group <group uuid> \| --all/)
})

t.test('a group id that is not a UUID is refused', async (t) => {
  const run = await rotateKeys(['--group', 'not-a-uuid'])
  t.equal(run.code, 2)
  t.match(run.stderr, /--group must be a group UUID, got "not-a-uuid"/)
})

t.test('--group and --all together are refused', async (t) => {
  const run = await rotateKeys(['--group', newId(), '--all'])
  t.equal(run.code, 2)
  t.match(run.stderr, /either --group or --all, not both/)
})

t.test('an unknown option is refused', async (t) => {
  const run = await rotateKeys(['--everything'])
  t.equal(run.code, 2)
  t.match(run.stderr, /everything/)
})

t.test('a group that does not exist is reported and nothing is written', async (t) => {
  const groupId = newId()
  const run = await rotateKeys(['--group', groupId])
  t.equal(run.code, 1)
  t.match(run.stderr, `No group ${groupId}`)
  t.same(await versionsOf(groupId), [])
})

t.test('with a different master key it fails and adds no key version', async (t) => {
  const groupId = await createGroup()
  await createKeyring({ db, masterKey: config.encryptionMasterKey }).encrypt(groupId, 'x', content(newId()))
  const run = await rotateKeys(['--group', groupId], { ENCRYPTION_MASTER_KEY: randomBytes(32).toString('base64') })
  t.equal(run.code, 1)
  t.match(run.stderr, /does not authenticate/)
  t.match(run.stderr, /Is ENCRYPTION_MASTER_KEY the one the servers use\?/)
  t.same(await versionsOf(groupId), [1])
})

t.test('--help prints the usage and succeeds', async (t) => {
  const run = await rotateKeys(['--help'])
  t.equal(run.code, 0)
  t.match(run.stdout, /Usage: npm run keys:rotate/)
})
