import t from 'tap'
import { PassThrough } from 'node:stream'
import { loadConfig } from '../../src/config.ts'
import { prettyLogStream, startLine, startUrls } from '../../src/lib/startup.ts'
import { TEST_JWT_SECRET, TEST_MASTER_KEY } from '../helpers/app.ts'

const env = { JWT_SECRET: TEST_JWT_SECRET, ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY }

t.test('the start line names the demo, the API docs and the WebSocket', async (t) => {
  const urls = startUrls(loadConfig(env), { address: '127.0.0.1', family: 'IPv4', port: 3000 })
  t.same(urls, {
    demo: 'http://127.0.0.1:3000/',
    docs: 'http://127.0.0.1:3000/docs',
    api: 'http://127.0.0.1:3000/mirror/api',
    websocket: 'ws://127.0.0.1:3000/mirror/groups/chat'
  })
  t.equal(startLine(urls), 'Parley is ready · demo http://127.0.0.1:3000/ · API docs http://127.0.0.1:3000/docs · WebSocket ws://127.0.0.1:3000/mirror/groups/chat')
})

t.test('a server on every interface is shown at the loopback address, without a demo when it is off', async (t) => {
  const urls = startUrls(loadConfig({ ...env, NODE_ENV: 'production', WS_PATH: '/ws' }), { address: '0.0.0.0', family: 'IPv4', port: 8080 })
  t.equal(urls.demo, null)
  t.equal(urls.websocket, 'ws://127.0.0.1:8080/ws')
  t.notMatch(startLine(urls), /demo/)
})

t.test('logs are human-readable in development on a terminal, JSON anywhere else', async (t) => {
  const terminal = Object.assign(new PassThrough(), { isTTY: true })
  t.equal(await prettyLogStream(loadConfig(env), new PassThrough()), undefined, 'a pipe gets JSON')
  t.equal(await prettyLogStream(loadConfig({ ...env, NODE_ENV: 'production' }), terminal), undefined, 'production gets JSON')

  const pretty = await prettyLogStream(loadConfig(env), terminal)
  if (pretty === undefined) throw new Error('no pretty stream on a development terminal')
  let written = ''
  terminal.on('data', (chunk: Buffer) => { written += chunk.toString() })
  pretty.write(JSON.stringify({ level: 30, time: Date.now(), pid: 1, hostname: 'h', msg: 'Parley is ready' }) + '\n')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(written, /INFO.*Parley is ready/)
  t.notMatch(written, /"level"/, 'not JSON')
})
