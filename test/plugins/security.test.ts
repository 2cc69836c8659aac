/*
 * What a browser frontend on another origin needs (issue 15 §4): CORS through CORS_ORIGINS,
 * with the semantics of WS_ALLOWED_ORIGINS, and security headers with a Content-Security-Policy.
 * (That the demo and the /docs UI really run under that policy is shown in Chromium:
 * test/browser/chat.test.ts.)
 */
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { buildTestApp, TEST_JWT_SECRET, TEST_MASTER_KEY } from '../helpers/app.ts'

const ALLOWED = 'https://app.example.com'
const open = await buildTestApp(t, import.meta.url)
const allowlisted = await buildTestApp(t, import.meta.url, { env: { CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` } })
const api = open.config.apiPrefix

t.test('without CORS_ORIGINS any origin may call the API, and never with credentials', async (t) => {
  const res = await open.inject({ method: 'GET', url: '/health', headers: { origin: 'https://anywhere.example' } })
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.notOk(res.headers['access-control-allow-credentials'], 'no credentials with the wildcard')
})

t.test('an origin in CORS_ORIGINS is allowed by name, with credentials', async (t) => {
  const res = await allowlisted.inject({ method: 'GET', url: '/health', headers: { origin: ALLOWED } })
  t.equal(res.headers['access-control-allow-origin'], ALLOWED)
  t.equal(res.headers['access-control-allow-credentials'], 'true')
  t.match(res.headers['access-control-expose-headers'], /x-request-id/, 'the request id can be read')
})

t.test('an origin outside CORS_ORIGINS gets no CORS headers', async (t) => {
  const res = await allowlisted.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } })
  t.notOk(res.headers['access-control-allow-origin'])
})

t.test('a preflight from an allowed origin is answered with the methods and headers the API takes', async (t) => {
  const res = await allowlisted.inject({
    method: 'OPTIONS',
    url: `${api}/groups`,
    headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], ALLOWED)
  t.match(res.headers['access-control-allow-methods'], /POST/)
  t.match(res.headers['access-control-allow-methods'], /PATCH/)
  t.match(res.headers['access-control-allow-headers'], /authorization/i)
  t.ok(Number(res.headers['access-control-max-age']) > 0, 'browsers may cache it')
})

t.test('a CORS_ORIGINS entry that is not an origin stops the start, naming the variable', async (t) => {
  const env = { JWT_SECRET: TEST_JWT_SECRET, ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY }
  t.throws(() => loadConfig({ ...env, CORS_ORIGINS: 'https://app.example.com/' }), ConfigError)
  t.throws(() => loadConfig({ ...env, CORS_ORIGINS: 'app.example.com' }), /CORS_ORIGINS/)
  t.same(loadConfig({ ...env, CORS_ORIGINS: ' https://a.example , http://localhost:5173 ' }).corsOrigins, ['https://a.example', 'http://localhost:5173'])
})

t.test('every response carries the security headers and a same-origin Content-Security-Policy', async (t) => {
  for (const url of ['/health', `${api}/auth/me`, '/no-such-page']) {
    const res = await open.inject({ method: 'GET', url })
    const csp = res.headers['content-security-policy'] ?? ''
    t.match(csp, /default-src 'self'/, `${url}: CSP`)
    t.match(csp, /script-src 'self'(;|$)/, `${url}: scripts from this origin only`)
    t.match(csp, /connect-src 'self'/, `${url}: fetch and the WebSocket to this origin`)
    t.notMatch(csp, /upgrade-insecure-requests/, `${url}: plain HTTP in development keeps working`)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
  }
})
