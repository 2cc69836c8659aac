import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Parser, DiagnosticSeverity } from '@asyncapi/parser'
import { buildTestApp } from '../helpers/app.ts'
import { ClientFrames, ServerFrame } from '../../schemas/ws.ts'

// DESIGN §7: an AsyncAPI 3 document of the WebSocket protocol, generated from schemas/ws.ts.
const app = await buildTestApp(t, import.meta.url)

t.test('/asyncapi.json is a valid AsyncAPI 3 document', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/asyncapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const parser = new Parser()
  const { document, diagnostics } = await parser.parse(res.body)
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error)
  t.same(errors.map((e) => `${e.path.join('.')}: ${e.message}`), [], 'no validation errors')
  t.ok(document)
  t.equal(document?.version(), '3.0.0')
})

t.test('the document lists every client frame as received and every server frame as sent', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/asyncapi.json' })).json() as {
    channels: { chat: { address: string } }
    operations: Record<string, { action: string, messages: Array<{ $ref: string }> }>
    components: { messages: Record<string, { name: string }> }
  }
  t.equal(doc.channels.chat.address, app.config.ws.path)
  const named = (action: string): string[] => Object.values(doc.operations)
    .filter((op) => op.action === action)
    .map((op) => doc.components.messages[op.messages[0]?.$ref.split('/').pop() ?? '']?.name ?? '')
    .sort()
  const clientTypes = ClientFrames.map((f) => f.properties.type.const as string).sort()
  const serverTypes = ServerFrame.anyOf.map((f) => (f.properties.type as { const: string }).const).sort()
  t.same(named('receive'), clientTypes)
  t.same(named('send'), serverTypes)
  // Seed 01 §5.4: all 12 client types; §5.5: all 13 server types.
  for (const type of ['chat:join_group', 'chat:leave_group', 'chat:send_message', 'chat:edit_message', 'chat:delete_message',
    'chat:typing_start', 'chat:typing_stop', 'chat:presence_update', 'chat:mark_read', 'chat:add_reaction', 'chat:remove_reaction', 'ping']) {
    t.ok(clientTypes.includes(type), `client sends ${type}`)
  }
  for (const type of ['chat:message', 'chat:message_edited', 'chat:message_deleted', 'chat:typing', 'chat:presence',
    'chat:reactions_updated', 'chat:message_read', 'chat:mention', 'chat:group_joined', 'chat:group_left', 'chat:ack', 'chat:error', 'pong']) {
    t.ok(serverTypes.includes(type), `server sends ${type}`)
  }
})

t.test('chat:key_changed is documented as sent, with its payload', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/asyncapi.json' })).json() as {
    components: { messages: Record<string, { name: string }>, schemas: Record<string, { properties?: { payload?: { properties?: Record<string, unknown>, required?: string[] } } }> }
  }
  t.equal(doc.components.messages.KeyChangedEvent?.name, 'chat:key_changed')
  const payload = doc.components.schemas.KeyChangedEvent?.properties?.payload
  for (const field of ['userId', 'deviceId', 'keyId', 'change', 'fingerprint']) t.ok(payload?.required?.includes(field), `payload.${field}`)
})

t.test('every client frame type the document lists is one the gateway dispatches', async (t) => {
  const dispatched = new Set([...app.gateway.commands.types(), 'auth'])
  for (const frame of ClientFrames) t.ok(dispatched.has(frame.properties.type.const as string), frame.properties.type.const as string)
})

t.test('scripts/export-asyncapi.ts writes the same document to a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-asyncapi-'))
  const target = join(dir, 'asyncapi.json')
  const script = fileURLToPath(new URL('../../scripts/export-asyncapi.ts', import.meta.url))
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [script, target], { env: { ...process.env, WS_PATH: app.config.ws.path } }, (err) => { if (err === null) resolve(); else reject(err) })
  })
  const written = JSON.parse(await readFile(target, 'utf8')) as unknown
  const served = (await app.inject({ method: 'GET', url: '/asyncapi.json' })).json() as unknown
  t.same(written, served)
})
