/*
 * Docker cannot run here, so the Dockerfile is checked as a document: parsed with
 * dockerfile-ast, stage by stage, against what DESIGN §1 and the README promise of the image.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DockerfileParser, type Instruction } from 'dockerfile-ast'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dockerfile = DockerfileParser.parse(readFileSync(join(root, 'Dockerfile'), 'utf8'))
const instructions = dockerfile.getInstructions()
const froms = dockerfile.getFROMs()

interface Stage {
  name: string | null
  image: string | null
  instructions: Instruction[]
}

/** The instructions of each stage, FROM to the next FROM. */
const stages: Stage[] = froms.map((from, i) => {
  const start = from.getRange().start.line
  const end = froms[i + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY
  return {
    name: from.getBuildStage(),
    image: from.getImage(),
    instructions: instructions.filter((ins) => ins.getRange().start.line > start && ins.getRange().start.line < end)
  }
})
const buildStage = stages[0]
const runtime = stages.at(-1)

const of = (stage: Stage | undefined, keyword: string): Instruction[] =>
  (stage?.instructions ?? []).filter((ins) => ins.getKeyword() === keyword)
/** An instruction's arguments as written, flags (`--from=…`) included. */
const text = (ins: Instruction): string => ins.getTextContent().replace(/^\s*\S+\s*/, '')
/** A JSON-form argument list as its words; a shell form as its text split on spaces. */
function words (ins: Instruction): string[] {
  const content = text(ins).trim()
  if (content.startsWith('[')) return JSON.parse(content) as string[]
  return content.split(/\s+/)
}

t.test('the Dockerfile is multi-stage on node:24-slim', async (t) => {
  t.ok(stages.length >= 2, 'at least a build and a runtime stage')
  for (const stage of stages) t.equal(stage.image, 'node:24-slim', `stage ${stage.name ?? '?'} is based on node:24-slim`)
  t.ok(buildStage?.name, 'the build stage is named')
})

t.test('the build stage installs with npm ci and runs npm run build', async (t) => {
  const runs = of(buildStage, 'RUN').map(text)
  t.ok(runs.some((run) => /\bnpm ci\b(?!.*--omit)/.test(run)), 'npm ci with dev dependencies')
  t.ok(runs.some((run) => /\bnpm run build\b/.test(run)), 'npm run build')
})

t.test('the runtime stage installs production dependencies only and copies the build output', async (t) => {
  const runs = of(runtime, 'RUN').map(text)
  t.ok(runs.some((run) => /\bnpm ci --omit=dev\b/.test(run)), 'npm ci --omit=dev')
  t.notOk(runs.some((run) => /\bnpm run build\b|\btsc\b/.test(run)), 'no compiler in the runtime stage')
  const copies = of(runtime, 'COPY').map(text)
  t.ok(copies.some((copy) => copy.includes(`--from=${buildStage?.name ?? ''}`) && copy.includes('dist/app')), 'the compiled app comes from the build stage')
})

t.test('the container runs as a non-root user', async (t) => {
  const users = of(runtime, 'USER').map(text)
  t.ok(users.length > 0, 'USER is set')
  const last = users.at(-1) ?? ''
  t.notMatch(last, /^(root|0)(:|$)/, 'and it is not root')
})

t.test('HOST is 0.0.0.0 in the image', async (t) => {
  const envs = of(runtime, 'ENV').map(text).join(' ')
  t.match(envs, /\bHOST=0\.0\.0\.0\b/)
})

t.test('a HEALTHCHECK asks /health', async (t) => {
  const checks = of(runtime, 'HEALTHCHECK').map(text)
  t.equal(checks.length, 1)
  t.match(checks[0], /\/health\b/)
  t.match(checks[0], /\bnode\b/, 'with node itself: the slim image has no curl')
})

t.test('an init process runs as PID 1', async (t) => {
  const entrypoint = of(runtime, 'ENTRYPOINT').at(-1)
  t.ok(entrypoint, 'ENTRYPOINT is set')
  if (entrypoint === undefined) return
  t.match(words(entrypoint)[0], /tini$/, 'tini forwards signals and reaps children')
  t.ok(of(runtime, 'RUN').map(text).some((run) => /apt-get install[^&]*\btini\b/.test(run)), 'tini is installed from apt')
})

t.test('CMD runs the server file that npm run build emits', async (t) => {
  const cmd = of(runtime, 'CMD').at(-1)
  t.ok(cmd, 'CMD is set')
  if (cmd === undefined) return
  const buildConfig = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } }
  const server = `${buildConfig.compilerOptions.outDir.replace(/\/$/, '')}/src/server.js`
  t.same(words(cmd), ['node', server])
})

t.test('.dockerignore keeps local state out of the build context', async (t) => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim())
  for (const entry of ['node_modules', '.git', 'dist', '.parley-secrets.json']) t.ok(ignored.includes(entry), `${entry} is ignored`)
})
