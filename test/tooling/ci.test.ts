/*
 * .ci/run is what CI executes on a clean clone (CI=true, no stdin). It cannot be run from inside
 * the suite (it runs the suite), so it is checked as a script: executable, valid bash, the
 * service start commands CI machines expect, and the README's test command last.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const path = join(root, '.ci', 'run')
const script = readFileSync(path, 'utf8')
const commands = script.split('\n').map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('#'))

t.test('.ci/run is an executable bash script', async (t) => {
  t.ok((statSync(path).mode & 0o111) !== 0, 'it is executable')
  t.match(script, /^#!\/usr\/bin\/env bash\n/)
  const syntax = spawnSync('bash', ['-n', path], { encoding: 'utf8' })
  t.equal(syntax.status, 0, syntax.stderr)
  t.match(script, /^set -euo pipefail$/m, 'any failing step fails the run')
})

t.test('.ci/run installs with npm ci first', async (t) => {
  t.match(commands.find((line) => line.startsWith('npm ')), /^npm ci\b/)
})

t.test('.ci/run checks MariaDB and Redis and starts them only when they do not answer', async (t) => {
  t.match(script, /mysqladmin -uroot\b.* ping/)
  t.match(script, /redis-cli\b.* ping/)
  t.ok(script.includes('start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'))
  t.ok(script.includes('redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'))
  t.match(script, /wait_for mariadb_up \d+/, 'a bounded wait for MariaDB')
  t.match(script, /wait_for redis_up \d+/, 'a bounded wait for Redis')
})

t.test('.ci/run installs Chromium for the browser tests when it is missing', async (t) => {
  t.match(script, /if \[ ! -x \/usr\/bin\/chromium \]; then/)
  t.match(script, /apt-get update\b.*&& .*apt-get install -y chromium\b/)
  const install = commands.findIndex((line) => line.includes('apt-get install -y chromium'))
  t.ok(install >= 0 && install < commands.findIndex((line) => line.startsWith('npm test')), 'before the tests run')
})

t.test('.ci/run ends with the README\'s test command and reads no stdin', async (t) => {
  t.match(commands.at(-1), /^npm test\b.*< \/dev\/null$/)
  for (const line of commands.filter((l) => /^npm /.test(l))) t.match(line, /< \/dev\/null$/, `${line} reads no stdin`)
})

t.test('package-lock.json names no optional dependency it holds no entry for (npm ci refuses such a lock)', async (t) => {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> }
  const { packages } = lock
  const resolves = (key: string, name: string): boolean => {
    for (let dir = key; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      if (packages[(dir === '' ? '' : dir + '/') + 'node_modules/' + name] !== undefined) return true
      if (dir === '') return false
    }
  }
  const dangling = Object.entries(packages).flatMap(([key, entry]) =>
    Object.keys(entry.optionalDependencies ?? {}).filter((name) => !resolves(key, name)).map((name) => `${key || '(root)'} → ${name}`))
  t.same(dangling, [], 'every declared optional dependency has an entry')
})
