import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.ts'
import { createDatabase } from '../db/connection.ts'
import { createKeyring, DecryptionError } from '../src/lib/keyring.ts'
import { toBin } from '../src/lib/ids.ts'

/**
 * `npm run keys:rotate -- --group <uuid>` adds a new data key version for one group;
 * `npm run keys:rotate -- --all` for every group that has a key. New records use the new
 * version (running instances within seconds, see DEFAULT_NEWEST_VERSION_TTL_MS); older
 * records keep decrypting with theirs. Nothing is re-encrypted.
 */
const USAGE = 'Usage: npm run keys:rotate -- --group <group uuid> | --all'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type Target = { group: string } | { all: true }

class UsageError extends Error {}

function parseTarget (args: string[]): Target {
  let values: { group?: string | undefined, all?: boolean | undefined, help?: boolean | undefined }
  try {
    ({ values } = parseArgs({
      args,
      options: { group: { type: 'string' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  if (values.group !== undefined && values.all === true) throw new UsageError('Give either --group or --all, not both')
  if (values.all === true) return { all: true }
  if (values.group === undefined) throw new UsageError('Give --group <uuid> or --all')
  if (!UUID.test(values.group)) throw new UsageError(`--group must be a group UUID, got "${values.group}"`)
  return { group: values.group.toLowerCase() }
}

let target: Target
try {
  target = parseTarget(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
  process.exit(2)
}

try {
  const config = loadConfig()
  const { db } = createDatabase(config.databaseUrl, 2)
  try {
    const keyring = createKeyring({ db, masterKey: config.encryptionMasterKey })
    if ('group' in target) {
      const group = await db.selectFrom('mirror_groups').select('id').where('id', '=', toBin(target.group)).executeTakeFirst()
      if (group === undefined) {
        process.stderr.write(`No group ${target.group}\n`)
        process.exitCode = 1
      } else {
        const version = await keyring.rotate(target.group)
        process.stdout.write(`Rotated group ${target.group}: new records use key version ${version}\n`)
      }
    } else {
      const count = await keyring.rotateAll()
      process.stdout.write(`Rotated ${count} group${count === 1 ? '' : 's'}\n`)
    }
  } finally {
    await db.destroy()
  }
} catch (err) {
  if (err instanceof DecryptionError) {
    process.stderr.write(`${err.message}\nIs ENCRYPTION_MASTER_KEY the one the servers use? Nothing was rotated for this group.\n`)
  } else {
    process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`)
  }
  process.exit(1)
}
