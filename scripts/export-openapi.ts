/**
 * Writes the OpenAPI document of the REST API, built from the route schemas exactly as
 * /docs/json serves it, to dist/openapi.json (or `--out <file>`).
 *
 * The app is built without serving anything: Redis runs in memory and, when the environment has
 * none, throwaway secrets are used, so the export needs no running service and writes no
 * secrets file. API_PREFIX and the other settings that shape paths are read as usual.
 *
 * Usage: node scripts/export-openapi.ts [--out <file>]
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.ts'
import { buildApp } from '../src/app.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist', 'openapi.json') } } })

try {
  const config = loadConfig({
    ...process.env,
    REDIS_URL: 'memory',
    LOG_LEVEL: 'silent',
    JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(48).toString('base64url'),
    ENCRYPTION_MASTER_KEY: process.env.ENCRYPTION_MASTER_KEY ?? randomBytes(32).toString('base64')
  })
  const app = await buildApp(config)
  await app.ready()
  const document = app.swagger()
  await app.close()
  const out = resolve(values.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(document, null, 2) + '\n')
  process.stdout.write(`OpenAPI document written to ${relative(process.cwd(), out) || out}\n`)
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
}
