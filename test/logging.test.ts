import t from 'tap'
import { Writable } from 'node:stream'
import { sql } from 'kysely'
import { buildTestApp } from './helpers/app.ts'
import { registerUser } from './helpers/users.ts'
import { until } from './helpers/wait.ts'

const BEARER = 'eyJhbGciOiJIUzI1NiJ9.secret-bearer-payload.signature'
const QUERY_TOKEN = 'secret-query-token-5f3a'
const TICKET = 'secret-ws-ticket-91bc'
const COOKIE = 'session=secret-cookie-77d1'
/** Credentials under names the server decodes to token/ticket: percent-encoded, upper-case, twice encoded. */
const ENCODED_SECRETS = ['encoded-token-a1', 'upper-token-b2', 'mixed-ticket-c3', 'double-token-d4', 'repeated-token-e5', 'plus-name-f6']

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
  await until(() => parsed().some((line) => line.reqId === reqId && line.msg === 'request completed'), { timeoutMs: 1000 })
}

// Requests carrying every kind of credential the service accepts.
const requests = [
  { method: 'GET' as const, url: `/health?token=${QUERY_TOKEN}`, headers: { authorization: `Bearer ${BEARER}`, 'x-request-id': 'log-test-1' } },
  { method: 'GET' as const, url: `${prefix}/auth/me`, headers: { authorization: `Bearer ${BEARER}`, cookie: COOKIE, 'x-request-id': 'log-test-2' } },
  { method: 'GET' as const, url: `${app.config.ws.path}?ticket=${TICKET}&other=1`, headers: { 'x-request-id': 'log-test-3' } },
  { method: 'GET' as const, url: `/no/such/route?access_token=${QUERY_TOKEN}&token=${QUERY_TOKEN}`, headers: { 'x-request-id': 'log-test-4' } },
  {
    method: 'GET' as const,
    url: `${app.config.ws.path}?%74oken=${ENCODED_SECRETS[0]}&TOKEN=${ENCODED_SECRETS[1]}&Ti%63KeT=${ENCODED_SECRETS[2]}&%2574oken=${ENCODED_SECRETS[3]}&keep=1&token=x&token=${ENCODED_SECRETS[4]}&+token+=${ENCODED_SECRETS[5]}`,
    headers: { 'x-request-id': 'log-test-5' }
  }
]
for (const request of requests) {
  await app.inject(request)
  await completed(request.headers['x-request-id'])
}

t.test('credentials in headers and query strings never reach the log', async (t) => {
  t.ok(lines.length >= requests.length * 2, 'the requests were logged')
  const output = lines.join('\n')
  for (const secret of [BEARER, 'secret-bearer-payload', QUERY_TOKEN, TICKET, 'secret-cookie-77d1', ...ENCODED_SECRETS]) {
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

t.test('credential query parameters are found by their decoded name, in any case or encoding', async (t) => {
  const line = parsed().find((l) => l.reqId === 'log-test-5' && l.msg === 'incoming request')
  t.equal(line?.req?.url, `${app.config.ws.path}?%74oken=[REDACTED]&TOKEN=[REDACTED]&Ti%63KeT=[REDACTED]&%2574oken=[REDACTED]&keep=1&token=[REDACTED]&token=[REDACTED]&+token+=[REDACTED]`)
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

/** The log lines written since `from`, parsed, with the error each carries. */
const errorLinesSince = (from: number): Array<{ msg?: string, err?: Record<string, unknown> }> =>
  lines.slice(from).map((line) => JSON.parse(line) as { msg?: string, err?: Record<string, unknown> }).filter((line) => line.err !== undefined)

t.test('a database error answered 500 is logged with its code, errno and sqlState but without the values it inlines', async (t) => {
  // A unique display name makes PATCH /users/me fail with a duplicate the service does not expect.
  await sql`ALTER TABLE users ADD UNIQUE INDEX log_test_display_name (display_name)`.execute(app.db)
  t.teardown(async () => { await sql`ALTER TABLE users DROP INDEX log_test_display_name`.execute(app.db) })
  const secretName = 'Secret Display Name 4e1f'
  await registerUser(app, { displayName: secretName })
  const bob = await registerUser(app)
  const from = lines.length
  const res = await app.inject({ method: 'PATCH', url: `${prefix}/users/me`, headers: { ...bob.auth, 'x-request-id': 'log-test-db' }, payload: { displayName: secretName } })
  t.equal(res.statusCode, 500)
  t.notOk(res.body.includes(secretName), 'the answer does not show it either')
  await completed('log-test-db')
  const logged = errorLinesSince(from).find((line) => line.msg === 'request failed')
  t.match(logged?.err, { code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000', message: /^Duplicate entry/ })
  t.notOk(lines.slice(from).join('\n').includes(secretName), 'the value is nowhere in the log')
  t.notOk('sql' in (logged?.err ?? {}) || 'sqlMessage' in (logged?.err ?? {}), 'no sql or sqlMessage')
})

t.test('any logged mysql2 error drops the statement it ran (sql) and its message\'s values', async (t) => {
  const secret = 'inlined-secret-9a7c@example.test'
  const statement = sql`INSERT INTO users (email, username, created_at, updated_at) VALUES (${sql.lit(secret)}, ${sql.lit('same_name_x')}, NOW(), NOW())`
  await statement.execute(app.db)
  const err = await statement.execute(app.db).then(() => null, (e: unknown) => e)
  t.match(err, { code: 'ER_DUP_ENTRY', sql: new RegExp(secret) }, 'a real mysql2 error carrying the value in sql and sqlMessage')
  const from = lines.length
  app.log.child({ module: 'any' }).error({ err }, 'something failed')
  const logged = errorLinesSince(from)
  t.equal(logged.length, 1)
  t.match(logged[0]?.err, { type: String, code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000', message: 'Duplicate entry …', stack: /^Error: Duplicate entry …/ })
  t.notOk(lines.slice(from).join('\n').includes(secret))
})
