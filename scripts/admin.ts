import { ConfigError, loadConfig } from '../src/config.ts'
import { createDatabase } from '../db/connection.ts'
import { adminRepository, type AdminRepository } from '../src/modules/admins/repository.ts'

/**
 * `npm run admin -- grant <userId>` makes a user a system administrator (moderation, /status);
 * `revoke <userId>` takes it back; `list` shows who is granted. Grants live in the database
 * (DATABASE_URL), so every instance sees them on the next request; ADMIN_USER_IDS is the other
 * way to name administrators and is not changed here.
 */
const USAGE = 'Usage: npm run admin -- grant <userId> | revoke <userId> | list'

type Command = { verb: 'grant' | 'revoke', userId: number } | { verb: 'list' }

class UsageError extends Error {}

function parseCommand (args: string[]): Command {
  const [verb, id, ...rest] = args
  if (verb === 'list' && id === undefined) return { verb }
  if ((verb === 'grant' || verb === 'revoke') && id !== undefined && rest.length === 0) {
    const userId = Number(id)
    if (!/^\d+$/.test(id) || !Number.isSafeInteger(userId) || userId < 1 || userId > 4294967295) throw new UsageError(`<userId> must be a numeric user id, got "${id}"`)
    return { verb, userId }
  }
  if (verb === '--help' || verb === '-h') {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  throw new UsageError(verb === undefined ? 'Give a command' : `Unknown or incomplete command: ${args.join(' ')}`)
}

/** Runs the command; the exit code is 0 when the wanted state holds afterwards. */
async function run (command: Command, admins: AdminRepository, configured: number[]): Promise<number> {
  if (command.verb === 'list') {
    const rows = await admins.list()
    for (const row of rows) {
      process.stdout.write(`${row.user_id}\t${row.username ?? '(deleted user)'}\t${row.email ?? ''}\tgranted ${row.granted_at.toISOString()}\n`)
    }
    if (rows.length === 0) process.stdout.write('No granted system administrators\n')
    if (configured.length > 0) process.stdout.write(`ADMIN_USER_IDS in this environment: ${configured.join(', ')}\n`)
    return 0
  }
  const { userId } = command
  if (command.verb === 'grant') {
    if (!await admins.userExists(userId)) {
      process.stderr.write(`No user ${userId}\n`)
      return 1
    }
    const granted = await admins.grant(userId)
    process.stdout.write(granted ? `Granted: user ${userId} is a system administrator\n` : `User ${userId} was a system administrator already\n`)
    return 0
  }
  const revoked = await admins.revoke(userId)
  process.stdout.write(revoked ? `Revoked: user ${userId} is no longer a granted system administrator\n` : `User ${userId} was not a granted system administrator\n`)
  if (configured.includes(userId)) process.stdout.write(`User ${userId} is still in ADMIN_USER_IDS in this environment\n`)
  return 0
}

let command: Command
try {
  command = parseCommand(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
  process.exit(2)
}

try {
  const config = loadConfig()
  const { db } = createDatabase(config.databaseUrl, 1)
  try {
    process.exitCode = await run(command, adminRepository(db), config.adminUserIds)
  } finally {
    await db.destroy()
  }
} catch (err) {
  const code = (err as { code?: unknown }).code
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`)
  else if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') process.stderr.write(`${(err as Error).message}\nRun npm run db:migrate first.\n`)
  else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
