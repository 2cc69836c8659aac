import t from 'tap'
import { Type } from '@sinclair/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { buildApp } from '../../src/app.ts'
import { ok } from '../../src/lib/envelope.ts'
import { AppError } from '../../src/lib/app-error.ts'
import { testConfig } from '../helpers/app.ts'

const BODY_LIMIT_BYTES = 2048

// The real app plus a few routes that fail on purpose, registered before ready.
const config = await testConfig(import.meta.url, { BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES), RATE_LIMIT_SCALE: '100' })
const app = (await buildApp(config)).withTypeProvider<TypeBoxTypeProvider>()
t.teardown(async () => { await app.close() })

app.post('/test/messages', {
  schema: {
    body: Type.Object({ content: Type.String({ minLength: 1 }), groupId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
    querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) })
  }
}, async (request) => ok(request.body))
app.get('/test/internal', async () => {
  throw new Error('connect ECONNREFUSED mysql://root:hunter2@10.0.0.5')
})
app.get('/test/send', { config: { failureCode: 'SEND_FAILED' } }, async () => {
  throw new Error('deadlock found when trying to get lock')
})
app.get('/test/forbidden', async () => {
  throw new AppError('FORBIDDEN', 'Not a member of this group', { groupId: 'g1' })
})
await app.ready()

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('an unknown route answers 404 NOT_FOUND in the error envelope', async (t) => {
  const res = await app.inject({ method: 'GET', url: `${config.apiPrefix}/no/such/route` })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { success: false, code: 'NOT_FOUND', error: /not found/, timestamp: ISO })
})

t.test('a body that is not valid JSON answers 400 in the error envelope', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages', headers: { 'content-type': 'application/json' }, payload: '{"content": "hi",' })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { success: false, code: 'VALIDATION_ERROR', error: String, timestamp: ISO })
})

t.test('an invalid body answers 400 VALIDATION_ERROR with one {field, message} per problem', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages', payload: { content: '', groupId: 'not-a-uuid' } })
  t.equal(res.statusCode, 400)
  const body = res.json()
  t.match(body, { success: false, code: 'VALIDATION_ERROR', error: 'Validation failed', timestamp: ISO })
  t.same(body.validationErrors.map((e: { field: string }) => e.field).sort(), ['content', 'groupId'])
  for (const item of body.validationErrors) t.match(item, { field: String, message: String })
})

t.test('a missing or unexpected field is named in validationErrors', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages', payload: { groupId: '0190a0e0-0000-7000-8000-000000000000', extra: 1 } })
  t.equal(res.statusCode, 400)
  t.same(res.json().validationErrors.map((e: { field: string }) => e.field).sort(), ['content', 'extra'])
})

t.test('an invalid query parameter is named in validationErrors', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages?limit=1000', payload: { content: 'hi', groupId: '0190a0e0-0000-7000-8000-000000000000' } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'limit', message: /limit/ }] })
})

t.test('a body over BODY_LIMIT_BYTES answers 413 PAYLOAD_TOO_LARGE', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages', payload: { content: 'x'.repeat(BODY_LIMIT_BYTES * 2), groupId: '0190a0e0-0000-7000-8000-000000000000' } })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { success: false, code: 'PAYLOAD_TOO_LARGE', error: String, timestamp: ISO })
})

t.test('an unsupported content type answers 415 in the error envelope', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/test/messages', headers: { 'content-type': 'application/xml' }, payload: '<content>hi</content>' })
  t.equal(res.statusCode, 415)
  t.match(res.json(), { success: false, code: 'UNSUPPORTED_MEDIA_TYPE', error: String, timestamp: ISO })
})

t.test('an internal error answers 500 INTERNAL_ERROR without leaking its message', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/test/internal' })
  t.equal(res.statusCode, 500)
  t.match(res.json(), { success: false, code: 'INTERNAL_ERROR', error: 'Internal server error', timestamp: ISO })
  t.notMatch(res.body, /ECONNREFUSED|hunter2|10\.0\.0\.5|stack/)
})

t.test('an internal error on a route with a failureCode answers that code', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/test/send' })
  t.equal(res.statusCode, 500)
  t.match(res.json(), { success: false, code: 'SEND_FAILED', error: 'Internal server error' })
  t.notMatch(res.body, /deadlock/)
})

t.test('an AppError answers its status, code, message and details', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/test/forbidden' })
  t.equal(res.statusCode, 403)
  t.match(res.json(), { success: false, code: 'FORBIDDEN', error: 'Not a member of this group', details: { groupId: 'g1' }, timestamp: ISO })
})

t.test('a protected route without a token answers 401 UNAUTHORIZED in the envelope', async (t) => {
  const res = await app.inject({ method: 'GET', url: `${config.apiPrefix}/auth/me` })
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED', error: String, timestamp: ISO })
})
