import t from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { ClientFrames, ServerFrame, WSMessageType } from '../../schemas/ws.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))

/**
 * The names seed 01 §6 defines, which DESIGN §7 requires the package to export, with the
 * schema file expected to define each. A name whose file does not exist yet is a todo.
 */
const SEED_NAMES: Record<string, string> = {
  MessageContentType: 'chat.ts',
  MessageStatus: 'chat.ts',
  PresenceStatus: 'chat.ts',
  NotificationLevel: 'chat.ts',
  DeviceType: 'chat.ts',
  ChatMessage: 'chat.ts',
  MessageMetadata: 'chat.ts',
  MentionInfo: 'chat.ts',
  LinkPreview: 'chat.ts',
  FormattingInfo: 'chat.ts',
  ReplyPreview: 'chat.ts',
  ReactionSummary: 'chat.ts',
  ChatAttachment: 'chat.ts',
  TypingIndicator: 'chat.ts',
  UserPresence: 'chat.ts',
  ChatPreferences: 'chat.ts',
  SendMessageRequest: 'chat.ts',
  GetMessagesRequest: 'chat.ts',
  GetMessagesResponse: 'chat.ts',
  ApiResponse: 'common.ts',
  WSMessageType: 'ws.ts',
  WSMessage: 'ws.ts'
}

// One build for the whole file, exactly as `npm run build:types` runs it (into dist/types), then
// installed into a scratch project where `@parley/types` is a real package.
const project = mkdtempSync(join(tmpdir(), 'parley-types-'))
t.teardown(() => { rmSync(project, { recursive: true, force: true }) })
const distDir = join(root, 'dist', 'types')
const packageDir = join(project, 'node_modules', '@parley', 'types')
const build = spawnSync(process.execPath, [join(root, 'scripts/build-types.ts')], { cwd: root, encoding: 'utf8' })
if (build.status === 0) cpSync(distDir, packageDir, { recursive: true })
const dts = existsSync(join(packageDir, 'index.d.ts')) ? readFileSync(join(packageDir, 'index.d.ts'), 'utf8') : ''
const exported = new Set([...dts.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]))

/** Compiles files of the scratch project as a strict frontend build would (DOM, bundler resolution). */
function compile (files: Record<string, string>): ts.Diagnostic[] {
  const src = join(project, 'src')
  rmSync(src, { recursive: true, force: true })
  mkdirSync(src, { recursive: true })
  for (const [name, text] of Object.entries(files)) writeFileSync(join(src, name), text)
  const options: ts.CompilerOptions = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
    skipLibCheck: false
  }
  const program = ts.createProgram(Object.keys(files).map((name) => join(src, name)), options)
  return [...ts.getPreEmitDiagnostics(program)]
}

function describe (diagnostics: ts.Diagnostic[]): string {
  return diagnostics.map((d) => {
    const where = d.file !== undefined && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
  }).join('\n')
}

t.test('build:types writes a types-only package named @parley/types', async (t) => {
  t.equal(build.status, 0, build.stderr)
  const manifest = JSON.parse(readFileSync(join(distDir, 'package.json'), 'utf8')) as Record<string, unknown>
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  t.equal(manifest.name, '@parley/types')
  t.equal(manifest.version, rootManifest.version)
  t.equal(manifest.types, './index.d.ts')
  t.notOk(manifest.dependencies, 'no dependencies')
  t.notOk(manifest.peerDependencies, 'no peer dependencies')
  t.same(readdirSync(distDir).filter((file) => file !== 'package.json' && !file.endsWith('.d.ts')), [], 'nothing but declarations and the manifest')
})

t.test('the declarations stand alone: no import, no TypeBox, no any', async (t) => {
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  t.notMatch(code, /\bimport\b|\brequire\(/, 'no import of anything')
  t.notMatch(dts, /typebox|TSchema|Static</i, 'no TypeBox type left unexpanded')
  t.notMatch(code, /\bany\b/, 'precise types, never any')
})

t.test('every exported type of every schema file is in the package', async (t) => {
  const schemaDir = join(root, 'schemas')
  const names = readdirSync(schemaDir).filter((f) => f.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(schemaDir, file), 'utf8').matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]))
  t.ok(names.length > 10, 'the schema files export types')
  const missing = names.filter((name) => !exported.has(name))
  t.same(missing, [], 'no exported schema type is missing from the package')
})

t.test('the moderation, key directory and ops shapes are exported', async (t) => {
  for (const name of ['ReportReason', 'ReportMessageRequest', 'MessageReport', 'AdminReport', 'AdminReportsResponse', 'ReviewReportRequest',
    'UploadKeyRequest', 'UploadKeyResponse', 'EncryptionKey', 'UserKeysResponse', 'VerifyKeyRequest', 'KeyChange', 'KeyChangesResponse',
    'KeyChangedEvent', 'ServerStatus', 'ErrorCode']) {
    t.ok(exported.has(name), `${name} is exported`)
  }
  t.match(dts, /'chat:key_changed'/, 'the event type is in the unions')
  t.match(dts, /'SPAM_DETECTED'/)
})

t.test('generic types keep their type parameters', async (t) => {
  t.match(dts, /export interface ApiResponse<T> \{/)
  t.match(dts, /data\?: T/)
})

t.test('the seed 01 §6 names are exported', async (t) => {
  for (const [name, file] of Object.entries(SEED_NAMES)) {
    if (exported.has(name)) {
      t.pass(`${name} is exported`)
    } else if (existsSync(join(root, 'schemas', file))) {
      t.fail(`${name} is missing although schemas/${file} exists`)
    } else {
      t.pass(`${name} is exported`, { todo: `schemas/${file} does not exist yet` })
    }
  }
})

t.test('a sample frontend client compiles against the package without a diagnostic', async (t) => {
  const diagnostics = compile({ 'sample-client.ts': readFileSync(join(fixtures, 'sample-client.ts'), 'utf8') })
  t.equal(diagnostics.length, 0, describe(diagnostics))
})

t.test('the WebSocket half of the sample client compiles against the package', async (t) => {
  if (!exported.has('WSMessage') || !exported.has('WSMessageType')) {
    t.pass('WSMessage and WSMessageType compile', { todo: 'schemas/ws.ts does not export WSMessage and WSMessageType yet' })
    return
  }
  const diagnostics = compile({ 'sample-ws-client.ts': readFileSync(join(fixtures, 'sample-ws-client.ts'), 'utf8') })
  t.equal(diagnostics.length, 0, describe(diagnostics))
})

t.test('a seed 01 §7.2 event router narrows every server frame by its type, with the fields of §5.5', async (t) => {
  const diagnostics = compile({ 'seed-event-router.ts': readFileSync(join(fixtures, 'seed-event-router.ts'), 'utf8') })
  t.equal(diagnostics.length, 0, describe(diagnostics))
})

t.test('WSMessage without a type argument is the union of server frames, never any', async (t) => {
  const diagnostics = compile({
    'narrowing.ts': [
      "import type { WSMessage } from '@parley/types'",
      'declare const message: WSMessage',
      // Before narrowing only what every frame has is known; after it, only that frame's fields.
      'export const early: string = message.payload.groupId',
      "export const wrongField: number = message.type === 'pong' ? message.payload.subscriberCount : 0",
      "export const notSent: boolean = message.type === 'upload_complete'",
      "export const right: number = message.type === 'chat:group_joined' ? message.payload.subscriberCount : 0"
    ].join('\n')
  })
  const messages = describe(diagnostics)
  t.equal(diagnostics.length, 3, messages)
  t.match(messages, /groupId/, 'payload.groupId needs narrowing first')
  t.match(messages, /subscriberCount/, 'pong has no subscriberCount')
  t.match(messages, /upload_complete/, 'a type the server never sends is not in the union')
})

t.test('WSMessage<T> is still a frame with the given payload', async (t) => {
  const diagnostics = compile({
    'generic.ts': [
      "import type { WSMessage } from '@parley/types'",
      "export const join: WSMessage<{ groupId: string }> = { type: 'chat:join_group', payload: { groupId: 'g' }, requestId: 'r1' }",
      'declare const raw: WSMessage<Record<string, unknown>>',
      'export const field: unknown = raw.payload.anything'
    ].join('\n')
  })
  t.equal(diagnostics.length, 0, describe(diagnostics))
})

t.test('WSMessageType lists exactly the types either side sends, and the server sends each of its own', async (t) => {
  const constOf = (schema: { properties: { type: unknown } }): string => (schema.properties.type as { const: string }).const
  const clientTypes = ClientFrames.map(constOf)
  const serverTypes = ServerFrame.anyOf.map(constOf)
  const listed = WSMessageType.anyOf.map((literal) => literal.const as string)
  t.same([...listed].sort(), [...new Set([...clientTypes, ...serverTypes])].sort(), 'no type the server never sends, none missing')
  const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [readFileSync(join(dir, entry.name), 'utf8')] : [])
  const code = sources(join(root, 'src')).join('\n')
  for (const type of serverTypes) t.ok(code.includes(`type: '${type}'`), `src/ builds ${type} frames`)
})

t.test('a wrong field access does not compile', async (t) => {
  const diagnostics = compile({
    'wrong.ts': [
      "import type { ChatMessage, MessageStatus, ApiResponse } from '@parley/types'",
      'declare const message: ChatMessage',
      'export const sender: string = message.senderName',
      "export const status: MessageStatus = 'read'",
      'declare const response: ApiResponse<ChatMessage>',
      'export const count: number = response.data?.reactions?.[0]?.total ?? 0'
    ].join('\n')
  })
  const messages = describe(diagnostics)
  t.equal(diagnostics.length, 3, messages)
  t.match(messages, /senderName/)
  t.match(messages, /'"read"' is not assignable/)
  t.match(messages, /total/)
})

t.test('npm run build:types is the build this file ran', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.equal(scripts['build:types'], 'node scripts/build-types.ts')
  t.ok(existsSync(join(distDir, 'index.d.ts')), 'it wrote dist/types/index.d.ts')
})
