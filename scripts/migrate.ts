import { ConfigError, loadConfig } from '../src/config.ts'
import { prepareDatabase } from '../db/connection.ts'

/** `npm run db:migrate`: create the database if missing and run every pending migration. */
try {
  const config = loadConfig()
  const result = await prepareDatabase(config.databaseUrl)
  for (const r of result.results ?? []) process.stdout.write(`${r.status}: ${r.migrationName}\n`)
  if ((result.results ?? []).length === 0) process.stdout.write('Database is up to date\n')
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
