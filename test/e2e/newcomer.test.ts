/*
 * A newcomer's first hour: `npm start` on a machine with local MariaDB and Redis and nothing
 * else, then the API used over real HTTP. The server runs as its own process, exactly as
 * `npm start` runs it, on a database that does not exist yet.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createConnection } from 'mysql2/promise'
import { clearRedisKeys, TEST_NAMESPACE } from '../helpers/app.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const MYSQL_SERVER = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const DATABASE = `parley_t_${TEST_NAMESPACE}e2e_newcomer`
const MIGRATE_DATABASE = `parley_t_${TEST_NAMESPACE}e2e_migrate`
const KEY_PREFIX = `ptest:${TEST_NAMESPACE}e2e_newcomer:`
const scratch = mkdtempSync(join(tmpdir(), 'parley-e2e-'))
t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })

async function dropDatabase (name: string): Promise<void> {
  const connection = await createConnection({ uri: MYSQL_SERVER })
  await connection.query(`DROP DATABASE IF EXISTS \`${name}\``)
  await connection.end()
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** The environment of a machine that has only been told where its database lives. */
function newcomerEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? scratch,
    SECRETS_FILE: join(scratch, '.parley-secrets.json'),
    LOG_LEVEL: 'info',
    ...extra
  }
}

interface Running {
  child: ChildProcess
  output: () => string
}

function start (script: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return { child, output: () => output }
}

async function exitOf (child: ChildProcess, withinMs: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null) return child.exitCode
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  // An unreferenced timer: the wait must not keep the test process alive once the child exits.
  const timeout = sleep(withinMs, undefined, { ref: false }).then(() => 'still running' as const)
  return await Promise.race([exited, timeout])
}

t.test('package.json starts the server and migrates as the README says', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.equal(scripts.start, 'node src/server.ts')
  t.equal(scripts['db:migrate'], 'node scripts/migrate.ts')
})

t.test('npm run db:migrate creates a missing database and migrates it, and a second run has nothing to do', async (t) => {
  await dropDatabase(MIGRATE_DATABASE)
  const env = newcomerEnv({ DATABASE_URL: `${MYSQL_SERVER}/${MIGRATE_DATABASE}`, REDIS_URL: 'memory' })
  const first = start('scripts/migrate.ts', env)
  t.equal(await exitOf(first.child, 60_000), 0, first.output())
  t.match(first.output(), /Success: 0001_foundation/)
  const second = start('scripts/migrate.ts', env)
  t.equal(await exitOf(second.child, 60_000), 0, second.output())
  t.match(second.output(), /up to date/)
  await dropDatabase(MIGRATE_DATABASE)
})

t.test('a newcomer starts the server on a fresh database and chats over HTTP', async (t) => {
  await dropDatabase(DATABASE)
  await clearRedisKeys(REDIS_URL, KEY_PREFIX)
  const port = await freePort()
  const server = start('src/server.ts', newcomerEnv({
    PORT: String(port),
    DATABASE_URL: `${MYSQL_SERVER}/${DATABASE}`,
    REDIS_URL,
    REDIS_KEY_PREFIX: KEY_PREFIX
  }))
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  const base = `http://127.0.0.1:${port}`

  // The server creates the database, migrates it and listens; wait (bounded) for /health.
  // Generous: on a loaded two-core machine twelve migrations of a fresh database take a while.
  let healthy = false
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline && !healthy && server.child.exitCode === null) {
    healthy = await fetch(`${base}/health`).then((res) => res.ok, () => false)
    if (!healthy) await sleep(100)
  }
  if (!t.ok(healthy, 'the server answers /health')) {
    t.comment(server.output())
    return
  }
  const ready = await fetch(`${base}/ready`)
  t.equal(ready.status, 200, 'MySQL and Redis are up')

  const api = `${base}/mirror/api`
  async function call (method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, body: { success: boolean, data: Record<string, unknown> } }> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const res = await fetch(`${api}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) })
    return { status: res.status, body: await res.json() as { success: boolean, data: Record<string, unknown> } }
  }

  const password = 'correct horse battery staple'
  const alice = await call('POST', '/auth/register', { email: 'alice@example.test', username: 'alice', password, displayName: 'Alice' })
  t.equal(alice.status, 201, 'alice registers')
  const bob = await call('POST', '/auth/register', { email: 'bob@example.test', username: 'bob', password })
  t.equal(bob.status, 201, 'bob registers')
  const bobUser = bob.body.data.user as { id: number }

  const login = await call('POST', '/auth/login', { username: 'alice', password })
  t.equal(login.status, 200, 'alice logs in')
  t.match(login.body, { success: true, data: { token: String, refreshToken: String, user: { username: 'alice', displayName: 'Alice' } } })
  const token = login.body.data.token as string

  const me = await call('GET', '/auth/me', undefined, token)
  t.match(me, { status: 200, body: { data: { user: { username: 'alice' } } } })

  const created = await call('POST', '/groups', { name: 'Book club' }, token)
  t.equal(created.status, 201, 'alice creates a group')
  const group = created.body.data.group as { id: string, name: string }
  t.equal(group.name, 'Book club')

  const added = await call('POST', `/groups/${group.id}/members`, { userId: bobUser.id }, token)
  t.equal(added.status, 201, 'alice adds bob')
  t.match(added.body.data, { member: { userId: bobUser.id, role: 'member' } })

  const members = await call('GET', `/groups/${group.id}/members`, undefined, token)
  t.equal(members.status, 200)
  const list = members.body.data.members as Array<{ userId: number, role: string }>
  t.equal(list.length, 2, 'the group has two members')
  t.ok(list.some((m) => m.role === 'owner' && m.userId !== bobUser.id), 'alice owns it')
  t.ok(list.some((m) => m.role === 'member' && m.userId === bobUser.id), 'bob is a member')

  const bobsView = await call('GET', `/groups/${group.id}/members`, undefined, bob.body.data.token as string)
  t.equal(bobsView.status, 200, 'bob can list the members too')

  // SIGTERM: draining, in-flight work finishes, the process exits 0 well within the grace period.
  server.child.kill('SIGTERM')
  t.equal(await exitOf(server.child, 15_000), 0, 'SIGTERM ends the server with exit code 0')
})
