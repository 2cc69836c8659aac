/**
 * `npm test`: typecheck, lint and the tap suite, then one closing line `N passed, N failed`.
 *
 * Typecheck and lint count as one test each; every tap assertion counts as one. Children run on
 * this script's own Node (process.execPath), which npm scripts resolve to the pinned Node 24.
 * Arguments are passed on to tap (`npm test -- test/plugins/errors.test.ts`), except
 * `--no-static`, which skips typecheck and lint (`npm test -- --no-static test/config.test.ts`).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Parser, type Result } from 'tap-parser'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
/** Raw TAP of the last run in a terminal, kept for replay (`tap replay`) and parsed for the summary. */
const TAP_OUTPUT = join(root, '.tap', 'last-run.tap')

interface Outcome {
  code: number
  output: string
}

/** The file a package's `bin` entry points to, so it runs on this Node, not on a shebang's. */
function binOf (pkg: string, name: string): string {
  const manifestPath = require.resolve(`${pkg}/package.json`)
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin?: string | Record<string, string> }
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[name]
  if (bin === undefined) throw new Error(`${pkg} has no bin named ${name}`)
  return join(dirname(manifestPath), bin)
}

/**
 * Runs a Node program and collects its stdout and stderr. With `echo` its output is also
 * streamed through as it comes (stdout to stdout, stderr to stderr).
 */
function run (args: string[], echo: boolean, env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (echo) process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (echo) process.stderr.write(chunk)
      else output += chunk.toString()
    })
    child.on('error', (err) => { resolve({ code: 1, output: output + String(err) + '\n' }) })
    child.on('close', (code, signal) => { resolve({ code: code ?? (signal !== null ? 1 : 0), output }) })
  })
}

export interface TapCounts {
  passed: number
  failed: number
  skipped: number
  failures: string[]
}

/** Counts every test point of the raw TAP, subtests flattened to their assertions. */
export function countTap (tap: string): TapCounts {
  const counts: TapCounts = { passed: 0, failed: 0, skipped: 0, failures: [] }
  const parser = new Parser()
  parser.on('pass', () => { counts.passed += 1 })
  parser.on('fail', (result: Result) => {
    counts.failed += 1
    counts.failures.push(result.fullname)
  })
  parser.on('skip', () => { counts.skipped += 1 })
  parser.on('todo', () => { counts.skipped += 1 })
  parser.on('bailout', (reason: string) => {
    counts.failed += 1
    counts.failures.push(`bailed out: ${reason}`)
  })
  parser.end(tap)
  return counts
}

function section (title: string): void {
  process.stdout.write(`\n=== ${title} ===\n`)
}

/** Runs everything and prints the closing line; the exit code says whether anything failed. */
async function main (args: string[]): Promise<void> {
  const staticChecks = !args.includes('--no-static')
  const tapArgs = args.filter((arg) => arg !== '--no-static')
  // The coverage floors of .taprc are for the whole suite; a run of some files cannot meet them.
  if (tapArgs.some((arg) => !arg.startsWith('-'))) tapArgs.unshift('--allow-incomplete-coverage')
  let passed = 0
  let failed = 0
  let skipped = 0
  const failures: string[] = []

  const checks: Array<[string, Outcome]> = []
  if (staticChecks) {
    // Typecheck and lint read the same files; running them side by side halves the wait.
    // The demo (web/) is its own project: the DOM library on top of the same settings.
    const [typecheck, typecheckWeb, lint] = await Promise.all([
      run([binOf('typescript', 'tsc'), '--noEmit', '-p', 'tsconfig.json'], false),
      run([binOf('typescript', 'tsc'), '--noEmit', '-p', 'web/tsconfig.json'], false),
      run([binOf('eslint', 'eslint'), '.'], false)
    ])
    const typechecks: Outcome = { code: typecheck.code !== 0 ? typecheck.code : typecheckWeb.code, output: typecheck.output + typecheckWeb.output }
    checks.push(['typecheck (tsc --noEmit)', typechecks], ['lint (eslint .)', lint])
  }
  for (const [name, outcome] of checks) {
    section(name)
    process.stdout.write(outcome.output.length > 0 ? outcome.output : 'ok\n')
    if (outcome.code === 0) passed += 1
    else {
      failed += 1
      failures.push(name)
    }
  }

  section('tap')
  // Test files load as Node itself loads the service (type stripping: the code is erasable
  // syntax only), not through tap's default ts-node, which compiled every module of every file
  // again and cost seconds of CPU per file. Typecheck is the static check above.
  const tapEnv = { ...process.env, TAP_TYPE_STRIP_ONLY: '1' }
  // A terminal gets tap's interactive reporter and the raw TAP in a file; a log (CI) gets raw TAP.
  const interactive = process.stdout.isTTY
  let rawTap = ''
  let tap: Outcome
  if (interactive) {
    mkdirSync(dirname(TAP_OUTPUT), { recursive: true })
    tap = await run([binOf('tap', 'tap'), '--reporter=base', `--output-file=${TAP_OUTPUT}`, ...tapArgs], true, tapEnv)
    try {
      rawTap = readFileSync(TAP_OUTPUT, 'utf8')
    } catch {
      // No TAP at all: the runner itself failed, counted below.
    }
  } else {
    tap = await run([binOf('tap', 'tap'), '--reporter=tap', ...tapArgs], true, tapEnv)
    rawTap = tap.output
  }
  const counts = countTap(rawTap)
  passed += counts.passed
  failed += counts.failed
  skipped += counts.skipped
  failures.push(...counts.failures)
  if (tap.code !== 0 && counts.failed === 0) {
    // Every test passed, yet tap failed: coverage below the .taprc thresholds, or a runner error.
    failed += 1
    failures.push(`tap exited with code ${tap.code} (coverage below the .taprc thresholds, or a runner error: see above)`)
  }

  if (failures.length > 0) {
    section('failed')
    for (const name of failures) process.stdout.write(`- ${name}\n`)
  }
  if (skipped > 0) process.stdout.write(`(${skipped} skipped or todo)\n`)
  process.stdout.write(`${passed} passed, ${failed} failed\n`)
  process.exitCode = failed > 0 ? 1 : 0
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (isMain) await main(process.argv.slice(2))
