import t from 'tap'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from './helpers/app.ts'

const BEARER = 'eyJhbGciOiJIUzI1NiJ9.secret-bearer-payload.signature'
const QUERY_TOKEN = 'secret-query-token-5f3a'
const TICKET = 'secret-ws-ticket-91bc'
const COOKIE = 'session=secret-cookie-77d1'

/** Every line the app logs, as written. */
const lines: string[] = []
let pending = ''
const logStream = new Writable({
  write (chunk: Buffer, _encoding, callback) {
    pending += chunk.toString()
    const complete = pending.split('\n')
    pending = complete.pop() ?? ''
    lines.push(...complete.filter((line) => line.length > 0))
    callback()
  }
})

const app = await buildTestApp(t, import.meta.url, { logStream, env: { LOG_LEVEL: 'info' } })
const prefix = app.config.apiPrefix

interface LogLine {
  reqId?: string
  msg?: string
  req?: { url?: string, headers?: Record<string, string> }
  res?: { statusCode?: number }
}
const parsed = (): LogLine[] => lines.map((line) => JSON.parse(line) as LogLine)

/** Waits until the request's `request completed` line is written (it follows the response). */
async function completed (reqId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (parsed().some((line) => line.reqId === reqId && line.msg === 'request completed')) return
    await sleep(10)
  }
}

// Requests carrying every kind of credential the service accepts.
const requests = [
  { method: 'GET' as const, url: `/health?token=${QUERY_TOKEN}`, headers: { authorization: `Bearer ${BEARER}`, 'x-request-id': 'log-test-1' } },
  { method: 'GET' as const, url: `${prefix}/auth/me`, headers: { authorization: `Bearer ${BEARER}`, cookie: COOKIE, 'x-request-id': 'log-test-2' } },
  { method: 'GET' as const, url: `${app.config.ws.path}?ticket=${TICKET}&other=1`, headers: { 'x-request-id': 'log-test-3' } },
  { method: 'GET' as const, url: `/no/such/route?access_token=${QUERY_TOKEN}&token=${QUERY_TOKEN}`, headers: { 'x-request-id': 'log-test-4' } }
]
for (const request of requests) {
  await app.inject(request)
  await completed(request.headers['x-request-id'])
}

t.test('credentials in headers and query strings never reach the log', async (t) => {
  t.ok(lines.length >= requests.length * 2, 'the requests were logged')
  const output = lines.join('\n')
  for (const secret of [BEARER, 'secret-bearer-payload', QUERY_TOKEN, TICKET, 'secret-cookie-77d1']) {
    t.notOk(output.includes(secret), `${secret} is not in the log`)
  }
})

t.test('redacted values are marked [REDACTED]', async (t) => {
  const incoming = parsed().filter((line) => line.msg === 'incoming request')
  const byId = (id: string): LogLine | undefined => incoming.find((line) => line.reqId === id)
  t.equal(byId('log-test-1')?.req?.headers?.authorization, '[REDACTED]')
  t.equal(byId('log-test-2')?.req?.headers?.cookie, '[REDACTED]')
  t.match(byId('log-test-1')?.req?.url, /token=\[REDACTED\]/)
  t.match(byId('log-test-3')?.req?.url, /ticket=\[REDACTED\]&other=1/)
  t.match(byId('log-test-4')?.req?.url, /access_token=\[REDACTED\]&token=\[REDACTED\]/)
})

t.test('every request line carries a request id', async (t) => {
  const requestLines = parsed().filter((line) => line.req !== undefined || line.res !== undefined || /request/.test(line.msg ?? ''))
  t.ok(requestLines.length >= requests.length * 2)
  t.same(requestLines.filter((line) => typeof line.reqId !== 'string' || line.reqId.length === 0), [], 'no request line without reqId')
  for (const request of requests) {
    const id = request.headers['x-request-id']
    t.ok(requestLines.some((line) => line.reqId === id && line.msg === 'incoming request'), `${id}: incoming request`)
    t.ok(requestLines.some((line) => line.reqId === id && line.msg === 'request completed'), `${id}: request completed`)
  }
})

t.test('a valid x-request-id is echoed in the response', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-abc.123' } })
  t.equal(res.headers['x-request-id'], 'trace-abc.123')
})

t.test('errors echo the request id too', async (t) => {
  const res = await app.inject({ method: 'GET', url: `${prefix}/auth/me`, headers: { 'x-request-id': 'trace-error-1' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['x-request-id'], 'trace-error-1')
})

t.test('a missing or malformed x-request-id is replaced by a generated one', async (t) => {
  const none = await app.inject({ method: 'GET', url: '/health' })
  t.match(none.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const malformed = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id <script>' } })
  t.match(malformed.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.not(none.headers['x-request-id'], malformed.headers['x-request-id'])
})
