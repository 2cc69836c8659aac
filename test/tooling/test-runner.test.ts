/*
 * scripts/test.ts (`npm test`): how it counts, and that its last line is `N passed, N failed`
 * with an exit code that says whether anything failed.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { countTap } from '../../scripts/test.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

const NESTED = `TAP version 14
# Subtest: test/a.test.ts
    # Subtest: first behaviour
        ok 1 - should be equal
        ok 2 - should match pattern
        1..2
    ok 1 - first behaviour # time=3ms
    # Subtest: second behaviour
        ok 1 - should be equal
        not ok 2 - should not match pattern
          ---
          diff: x
          ...
        1..2
    not ok 2 - second behaviour # time=2ms
    1..2
not ok 1 - test/a.test.ts # time=30ms
# Subtest: test/b.test.ts
    ok 1 - reads as a sentence # SKIP not on this platform
    ok 2 - still to come # TODO later
    1..2
ok 2 - test/b.test.ts
1..2
`

const CRASHED = `TAP version 14
# Subtest: test/crash.test.ts
    1..0
not ok 1 - test/crash.test.ts
  ---
  exitCode: 1
  ...
# Subtest: test/fine.test.ts
    ok 1 - fine
    1..1
ok 2 - test/fine.test.ts
1..2
`

t.test('every assertion counts once, the subtests around them do not', async (t) => {
  const counts = countTap(NESTED)
  t.equal(counts.passed, 3)
  t.equal(counts.failed, 1)
  t.same(counts.failures, ['test/a.test.ts > second behaviour > should not match pattern'])
})

t.test('skipped and todo assertions are counted apart, never as failures', async (t) => {
  t.equal(countTap(NESTED).skipped, 2)
})

t.test('a test file that crashes before any assertion counts as one failure', async (t) => {
  const counts = countTap(CRASHED)
  t.equal(counts.passed, 1)
  t.equal(counts.failed, 1)
  t.same(counts.failures, ['test/crash.test.ts'])
})

t.test('a bail-out counts as a failure', async (t) => {
  const counts = countTap('TAP version 14\nok 1 - one\nBail out! database unreachable\n')
  t.equal(counts.failed, 1)
  t.match(counts.failures, [/database unreachable/])
})

t.test('no TAP at all counts nothing', async (t) => {
  t.same(countTap(''), { passed: 0, failed: 0, skipped: 0, failures: [] })
})

t.test('npm test ends with "N passed, N failed" and fails when a test fails', async (t) => {
  // --no-static: typecheck and lint of the whole project would only repeat what npm test itself runs.
  // The runner starts tap itself: tap's own variables must not make it think it is a child.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(TAP|_TAP|NODE_V8_COVERAGE|NODE_OPTIONS)/.test(key)))
  // A project of its own: a nested tap run in this checkout would share .tap/ (process info,
  // coverage) with the suite that is running it, and each run clears the other's state.
  const sandbox = mkdtempSync(join(tmpdir(), 'parley-runner-'))
  t.teardown(() => { rmSync(sandbox, { recursive: true, force: true }) })
  symlinkSync(join(root, 'node_modules'), join(sandbox, 'node_modules'))
  for (const file of ['package.json', 'tsconfig.json', '.taprc', 'scripts/test.ts', 'test/fixtures/runner-sample.ts']) {
    mkdirSync(dirname(join(sandbox, file)), { recursive: true })
    copyFileSync(join(root, file), join(sandbox, file))
  }
  const child = spawn(process.execPath, ['scripts/test.ts', '--no-static', '--disable-coverage', 'test/fixtures/runner-sample.ts'], { cwd: sandbox, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.resume()
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })

  const lines = stdout.trimEnd().split('\n')
  const last = lines.at(-1) ?? ''
  const summary = /^(\d+) passed, (\d+) failed$/.exec(last)
  t.ok(summary, `the last line is the summary: ${last}`)
  const passed = Number(summary?.[1])
  const failed = Number(summary?.[2])
  t.equal(passed, 2, 'the passing assertions')
  t.equal(failed, 1, 'the failing assertion')
  t.equal(code, 1, 'the exit code says something failed')
  t.match(stdout, /test\/fixtures\/runner-sample\.ts > a failing test > one is not two/, 'the failure is named')
  t.match(stdout, /\(1 skipped or todo\)/)
})
