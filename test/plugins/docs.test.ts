import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileErrors, validate } from '@readme/openapi-parser'
import { buildTestApp } from '../helpers/app.ts'
import { sharedSchemas } from '../../schemas/index.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> } | undefined>
}
interface OpenApiDocument {
  openapi: string
  info: { title: string, version: string }
  paths: Record<string, Partial<Record<typeof METHODS[number], Operation>>>
  components?: { schemas?: Record<string, unknown> }
}

// One app for the file: the document does not change between requests.
const app = await buildTestApp(t, import.meta.url)
const apiPrefix = app.config.apiPrefix

async function openApi (): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  if (res.statusCode !== 200) throw new Error(`/docs/json answered ${res.statusCode}`)
  return res.json()
}

function operationsUnder (document: OpenApiDocument, prefix: string): Array<{ name: string, operation: Operation }> {
  return Object.entries(document.paths)
    .filter(([path]) => path.startsWith(prefix + '/'))
    .flatMap(([path, item]) => METHODS.flatMap((method) => {
      const operation = item[method]
      return operation === undefined ? [] : [{ name: `${method.toUpperCase()} ${path}`, operation }]
    }))
}

t.test('/docs/json is a valid OpenAPI 3 document', async (t) => {
  const document = await openApi()
  t.match(document.openapi, /^3\./)
  t.equal(document.info.title, 'Parley API')
  const result = await validate(structuredClone(document) as unknown as Parameters<typeof validate>[0])
  t.ok(result.valid, result.valid ? 'valid' : compileErrors(result))
})

t.test('component schemas are named after the shared schemas\' $ids', async (t) => {
  const document = await openApi()
  const names = Object.keys(document.components?.schemas ?? {})
  t.ok(names.includes('PublicUser'))
  t.ok(names.includes('ErrorResponse'))
  for (const schema of sharedSchemas) {
    if (typeof schema.$id === 'string') t.ok(names.includes(schema.$id), `${schema.$id} is a named component`)
  }
  t.same(names.filter((name) => /^def-\d+$/.test(name)), [], 'no anonymous def-N components')
})

t.test('every route under the API prefix declares a response schema for its success status', async (t) => {
  const document = await openApi()
  const operations = operationsUnder(document, apiPrefix)
  t.ok(operations.length > 0, 'the API has routes')
  const missing = operations.filter(({ operation }) => {
    const success = Object.entries(operation.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status))
    if (success.length === 0) return true
    return !success.every(([status, response]) => status === '204' || response?.content?.['application/json']?.schema !== undefined)
  }).map(({ name }) => name)
  t.same(missing, [], 'no route without a success response schema')
})

t.test('every declared error response of the API is the error envelope', async (t) => {
  const document = await openApi()
  const wrong: string[] = []
  for (const { name, operation } of operationsUnder(document, apiPrefix)) {
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      if (!/^[45]\d\d$/.test(status)) continue
      const schema = JSON.stringify(response?.content?.['application/json']?.schema ?? null)
      if (!schema.includes('ErrorResponse')) wrong.push(`${name} ${status}`)
    }
  }
  t.same(wrong, [], 'every 4xx and 5xx response references ErrorResponse')
})

t.test('the moderation, key directory and ops routes are documented with their schemas', async (t) => {
  const document = await openApi()
  const expected: Array<[string, typeof METHODS[number]]> = [
    [`${apiPrefix}/groups/{groupId}/chat/messages/{messageId}/report`, 'post'],
    [`${apiPrefix}/admin/reports`, 'get'],
    [`${apiPrefix}/admin/reports/{reportId}`, 'put'],
    [`${apiPrefix}/chat/encryption/keys`, 'post'],
    [`${apiPrefix}/chat/encryption/keys/{userId}`, 'get'],
    [`${apiPrefix}/chat/encryption/keys/{userId}/changes`, 'get'],
    [`${apiPrefix}/chat/encryption/keys/{keyId}`, 'delete'],
    [`${apiPrefix}/chat/encryption/verify`, 'post'],
    ['/status', 'get'],
    ['/metrics', 'get']
  ]
  for (const [path, method] of expected) t.ok(document.paths[path]?.[method], `${method.toUpperCase()} ${path}`)
  const names = Object.keys(document.components?.schemas ?? {})
  for (const name of ['ReportMessageRequest', 'AdminReport', 'ReviewReportRequest', 'UploadKeyRequest', 'EncryptionKey', 'KeyChange', 'ServerStatus']) {
    t.ok(names.includes(name), `${name} is a component`)
  }
  const errorCode = JSON.stringify(document.components?.schemas?.ErrorCode)
  t.ok(errorCode.includes('SPAM_DETECTED'), 'SPAM_DETECTED is an ErrorCode')
})

t.test('/docs serves the documentation UI', async (t) => {
  let res = await app.inject({ method: 'GET', url: '/docs' })
  if (res.statusCode >= 300 && res.statusCode < 400 && typeof res.headers.location === 'string') {
    res = await app.inject({ method: 'GET', url: new URL(res.headers.location, 'http://localhost/docs/').pathname })
  }
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger/i)
})

t.test('scripts/export-openapi.ts writes the document /docs/json serves', async (t) => {
  const document = await openApi()
  const dir = mkdtempSync(join(tmpdir(), 'parley-openapi-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const out = join(dir, 'openapi.json')
  const run = spawnSync(process.execPath, ['scripts/export-openapi.ts', '--out', out], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'mysql://root@127.0.0.1:3306/parley_t_unused' }
  })
  t.equal(run.status, 0, run.stderr)
  t.same(JSON.parse(readFileSync(out, 'utf8')), document)
})
