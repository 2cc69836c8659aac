/*
 * SERVE_DEMO: the demo chat app (web/) served at `/`, bundled by esbuild on first request.
 * (That it works is shown in Chromium: test/browser/chat.test.ts.)
 */
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { buildTestApp, TEST_JWT_SECRET, TEST_MASTER_KEY } from '../helpers/app.ts'

const app = await buildTestApp(t, import.meta.url, { env: { SERVE_DEMO: 'true', API_PREFIX: '/api/v2', WS_PATH: '/live' } })
const off = await buildTestApp(t, import.meta.url, { env: { SERVE_DEMO: 'false' } })

t.test('SERVE_DEMO is on by default in development and off in production', async (t) => {
  const env = { JWT_SECRET: TEST_JWT_SECRET, ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY }
  t.equal(loadConfig(env).serveDemo, true, 'development')
  t.equal(loadConfig({ ...env, NODE_ENV: 'production' }).serveDemo, false, 'production')
  t.equal(loadConfig({ ...env, NODE_ENV: 'production', SERVE_DEMO: 'true' }).serveDemo, true, 'production, asked for')
  t.equal(loadConfig({ ...env, SERVE_DEMO: 'false' }).serveDemo, false, 'development, turned off')
})

t.test('/ serves the demo page, told where the API and the WebSocket are', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /<meta name="parley-api-prefix" content="\/api\/v2">/)
  t.match(res.body, /<meta name="parley-ws-path" content="\/live">/)
  t.match(res.body, /<script type="module" src="demo\/app\.js">/)
})

t.test('the bundle is served: the app with @parley/client in it, and its styles', async (t) => {
  const script = await app.inject({ method: 'GET', url: '/demo/app.js' })
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /^text\/javascript/)
  t.match(script.body, /chat:join_group/, 'the SDK is bundled')
  t.notMatch(script.body, /from ?["']@parley\//, 'no bare import is left for the browser to resolve')
  const styles = await app.inject({ method: 'GET', url: '/demo/app.css' })
  t.equal(styles.statusCode, 200)
  t.match(styles.headers['content-type'], /^text\/css/)
})

t.test('an unchanged asset answers 304 to its ETag', async (t) => {
  const first = await app.inject({ method: 'GET', url: '/demo/app.js' })
  const etag = first.headers.etag
  t.type(etag, 'string')
  const again = await app.inject({ method: 'GET', url: '/demo/app.js', headers: { 'if-none-match': String(etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('an unknown demo file is a 404 in the error envelope', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/demo/nothing.js' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { success: false, code: 'NOT_FOUND' })
})

t.test('with SERVE_DEMO=false there is no demo', async (t) => {
  t.equal((await off.inject({ method: 'GET', url: '/' })).statusCode, 404)
  t.equal((await off.inject({ method: 'GET', url: '/demo/app.js' })).statusCode, 404)
})
