/*
 * `npm run build` (tsc -p tsconfig.build.json) emits runnable JavaScript for the image.
 * The emit runs with --noCheck to stay fast: type errors are npm test's typecheck's business;
 * this checks that the build configuration emits the server and that the output loads.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
// Inside the project (under the git-ignored .tap/), so the output resolves the project's node_modules
// and package.json ("type": "module") exactly as dist/app does.
const outDir = join(root, '.tap', `build-check-${process.pid}`)
t.teardown(() => { rmSync(outDir, { recursive: true, force: true }) })

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--noCheck', '--outDir', outDir], { cwd: root, encoding: 'utf8' })

t.test('npm run build is tsc -p tsconfig.build.json', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.equal(scripts.build, 'tsc -p tsconfig.build.json')
})

t.test('the build emits the server, the migrations and the migrate script', async (t) => {
  t.equal(build.status, 0, build.stdout + build.stderr)
  for (const file of ['src/server.js', 'src/app.js', 'db/migrations/index.js', 'scripts/migrate.js']) {
    t.ok(existsSync(join(outDir, file)), `${file} is emitted`)
  }
  t.notMatch(readFileSync(join(outDir, 'src/server.js'), 'utf8'), /from ['"][^'"]+\.ts['"]/, 'imports point at .js files')
})

t.test('the emitted server loads all its modules and checks its configuration', async (t) => {
  // A bad PORT stops the start after every static import has resolved, before anything connects.
  const run = spawnSync(process.execPath, [join(outDir, 'src/server.js')], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', PORT: 'not-a-port', SECRETS_FILE: join(outDir, 'unused-secrets.json') },
    timeout: 60_000
  })
  t.equal(run.status, 1)
  t.match(run.stderr, /Invalid environment: PORT/)
  t.notMatch(run.stderr, /ERR_MODULE_NOT_FOUND|Cannot find/)
})
