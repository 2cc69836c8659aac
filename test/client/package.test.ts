/*
 * `npm run build:client` makes a real package: @parley/client, whose only dependency is
 * @parley/types, that a browser app and a Node app both compile against (strictly, its
 * declarations checked too) and that runs in Node against a real Parley from its built JS.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { startServer } from './harness.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'parley-client-'))
t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })
const built = { client: join(scratch, 'out', 'client'), types: join(scratch, 'out', 'types') }
const build = spawnSync(process.execPath, [join(root, 'scripts/build-client.ts'), '--out', built.client, '--types-out', built.types], { cwd: root, encoding: 'utf8' })
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

// A consumer project with both packages installed as node_modules would hold them.
const project = join(scratch, 'app')
if (build.status === 0) {
  cpSync(built.types, join(project, 'node_modules', '@parley', 'types'), { recursive: true })
  cpSync(built.client, join(project, 'node_modules', '@parley', 'client'), { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }))
}

/** The README's ten lines, plus typed events, as an application writes them. */
const CONSUMER = `
import { ParleyClient, ParleyError, webStorageOutbox, type GroupPosition } from '@parley/client'
import type { ChatMessage, TypingEvent } from '@parley/types'

declare function log (...values: unknown[]): void

export async function main (groupId: string): Promise<GroupPosition | null> {
  const client = new ParleyClient({ baseUrl: 'https://chat.example.test' })
  await client.login({ username: 'alice', password: 'correct horse battery staple' })
  client.on('message', (message: ChatMessage) => { log(message.seq, message.senderUsername, message.content) })
  client.on('chat:typing', (typing: TypingEvent['payload']) => { log(typing.username, typing.isTyping) })
  client.on('authFailed', (error: ParleyError) => { log(error.code, error.validationErrors.length) })
  await client.connect()
  await client.joinGroup(groupId)
  const ack = await client.send(groupId, { content: 'Hello' })
  const seq: number = ack.seq
  const page = await client.rest.chat.listMessages(groupId, { limit: 20 })
  const first: ChatMessage | undefined = page.messages[0]
  log(seq, first?.content, webStorageOutbox)
  return client.position(groupId)
}
`

function compile (name: string, files: Record<string, string>, options: ts.CompilerOptions): string[] {
  const dir = join(project, name)
  mkdirSync(dir, { recursive: true })
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text)
  const program = ts.createProgram(Object.keys(files).map((file) => join(dir, file)), {
    strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noEmit: true, skipLibCheck: false, ...options
  })
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
}

const BROWSER: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: []
}
const NODE: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts'],
  types: []
}

t.test('build:client writes @parley/client, depending on @parley/types only', async (t) => {
  t.equal(build.status, 0, build.stderr)
  const manifest = JSON.parse(readFileSync(join(built.client, 'package.json'), 'utf8')) as Record<string, unknown>
  t.match(manifest, { name: '@parley/client', version, type: 'module', main: './index.js', types: './index.d.ts' })
  t.same(manifest.dependencies, { '@parley/types': version }, 'its one dependency, at the same version')
  t.notOk(manifest.peerDependencies)
  for (const file of ['index.js', 'index.d.ts', 'client.js', 'rest/chat.js']) t.ok(existsSync(join(built.client, file)), file)
  t.ok(existsSync(join(built.types, 'index.d.ts')), 'and the types package beside it')
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.equal(scripts['build:client'], 'node scripts/build-client.ts')
})

t.test('the built JavaScript imports nothing at run time but its own files', async (t) => {
  const index = readFileSync(join(built.client, 'client.js'), 'utf8')
  t.notMatch(index, /from ["']@parley\/types["']/, 'types only: no runtime import of @parley/types')
  t.notMatch(index, /from ["'][^."'][^"']*["']/, 'no bare import at all')
  t.notMatch(index, /\.ts["']/, 'imports point at .js files')
})

t.test('a browser app compiles against the packages without a diagnostic', async (t) => {
  const diagnostics = compile('browser', { 'main.ts': CONSUMER }, BROWSER)
  t.same(diagnostics, [])
})

t.test('a Node app without the DOM library compiles against them too', async (t) => {
  const diagnostics = compile('node', { 'main.mts': CONSUMER }, NODE)
  t.same(diagnostics, [])
})

t.test('a wrong use does not compile', async (t) => {
  const diagnostics = compile('wrong', {
    'wrong.ts': [
      "import { ParleyClient } from '@parley/client'",
      "const client = new ParleyClient({ baseUrl: 'https://x.test' })",
      "client.on('message', (m) => { document.title = m.body })",
      "client.on('chat:typing', (t) => { document.title = t.content })",
      "void client.send('g', { text: 'hello' })"
    ].join('\n')
  }, BROWSER)
  t.equal(diagnostics.length, 3, diagnostics.join('\n'))
  t.match(diagnostics.join('\n'), /body/)
  t.match(diagnostics.join('\n'), /content/)
  t.match(diagnostics.join('\n'), /text/)
})

t.test('the built package runs in Node against a real Parley', async (t) => {
  const server = await startServer(t, import.meta.url)
  writeFileSync(join(project, 'run.mjs'), `
import { ParleyClient } from '@parley/client'
const baseUrl = process.argv[2]
const alice = new ParleyClient({ baseUrl })
const bob = new ParleyClient({ baseUrl })
const tag = Date.now().toString(36)
await alice.register({ email: 'a' + tag + '@example.test', username: 'a' + tag, password: 'correct horse battery staple' })
const { user } = await bob.register({ email: 'b' + tag + '@example.test', username: 'b' + tag, password: 'correct horse battery staple' })
const { group } = await alice.rest.groups.create({ name: 'Built', memberIds: [user.id] })
await Promise.all([alice.connect(), bob.connect()])
await bob.joinGroup(group.id)
const received = new Promise((resolve) => bob.on('message', resolve))
await alice.send(group.id, { content: 'from the built package' })
const message = await received
console.log(JSON.stringify({ content: message.content, seq: message.seq }))
alice.close()
bob.close()
`)
  // Asynchronously: the server runs in this process and must go on answering.
  const child = spawn(process.execPath, [join(project, 'run.mjs'), server.baseUrl], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, stderr)
  t.same(JSON.parse(stdout.trim()), { content: 'from the built package', seq: 1 })
})
