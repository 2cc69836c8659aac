/*
 * `npm start` on a fresh clone serves a working chat: the server runs as its own process,
 * exactly as `npm start` runs it (development: SERVE_DEMO on), on a database that does not
 * exist yet; its start line says where the demo is, and Chromium opens it there.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createConnection } from 'mysql2/promise'
import { TEST_NAMESPACE } from '../helpers/app.ts'
import { launchChromium, screenshot, watchProblems } from './chromium.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const MYSQL_SERVER = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const DATABASE = `parley_t_${TEST_NAMESPACE}browser_start`
const scratch = mkdtempSync(join(tmpdir(), 'parley-start-'))
t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })

async function dropDatabase (): Promise<void> {
  const connection = await createConnection({ uri: MYSQL_SERVER })
  await connection.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``)
  await connection.end()
}

t.test('npm start serves the demo at the URL its start line prints', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.equal(scripts.start, 'node src/server.ts')
  await dropDatabase()
  t.teardown(dropDatabase)
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? scratch,
      PORT: '0',
      DATABASE_URL: `${MYSQL_SERVER}/${DATABASE}`,
      REDIS_URL: 'memory',
      SECRETS_FILE: join(scratch, '.parley-secrets.json'),
      LOG_LEVEL: 'info'
    }
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })

  let ready: { demo?: string, docs?: string, websocket?: string, msg?: string } | undefined
  for (let i = 0; i < 600 && ready === undefined && child.exitCode === null; i++) {
    ready = output.split('\n').filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { demo?: string, msg?: string })
      .find((line) => line.msg?.startsWith('Parley is ready') === true)
    if (ready === undefined) await sleep(100)
  }
  if (!t.ok(ready, 'the start line is logged')) {
    t.comment(output)
    return
  }
  const demo = ready?.demo ?? ''
  t.match(demo, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the demo URL')
  t.equal(ready?.docs, `${demo}docs`, 'the docs URL')
  t.match(ready?.websocket, /^ws:\/\/127\.0\.0\.1:\d+\/mirror\/groups\/chat$/, 'the WebSocket URL')
  t.match(ready?.msg, /demo http:.*API docs http:.*WebSocket ws:/)
  t.notMatch(output, /\/\.parley|JWT_SECRET|ENCRYPTION_MASTER_KEY/, 'no secret in the logs')

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  const problems = watchProblems(page)
  await page.goto(demo)
  await page.locator('.auth-card').waitFor()
  await page.click('.tab:has-text("Create account")')
  await page.fill('input[name=username]', 'newcomer')
  await page.fill('input[name=email]', 'newcomer@example.test')
  await page.fill('input[name=password]', 'correct horse battery staple')
  await page.click('button[type=submit]')
  await page.locator('[data-testid=connection].open').waitFor()
  t.pass('a newcomer signs up in the demo and is connected')
  await screenshot(page, 'first-start')
  t.same(problems, [], 'no CSP violation and no page error')

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'SIGTERM ends it cleanly')
})
