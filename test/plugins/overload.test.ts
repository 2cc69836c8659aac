import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { ok } from '../../src/lib/envelope.ts'
import { buildTestApp, testConfig } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'

// Overload sheds (src/plugins/overload.ts): past a threshold, new requests get 503
// SERVICE_UNAVAILABLE with Retry-After and do nothing, new WebSockets are closed with 1013, and
// /health still answers. The pressure is real, not simulated: a heap threshold of one byte, which
// any heap passes from the first sample on, and requests really held in flight past a cap. A
// second instance on the same database runs without thresholds, as every other test does.

// Calm, but refusing past two requests in flight: the hold route keeps them there.
const calm = await buildApp(await testConfig(import.meta.url, { OVERLOAD_MAX_IN_FLIGHT: '2' }))
t.teardown(async () => { await calm.close() })
let release = (): void => {}
const held = new Promise<void>((resolve) => { release = resolve })
calm.get('/test/hold', async () => { await held; return ok({ held: true }) })
await calm.ready()
const overloaded = await buildTestApp(t, import.meta.url, {
  env: { OVERLOAD_MAX_HEAP_USED_BYTES: '1', OVERLOAD_SAMPLE_INTERVAL_MS: '10', OVERLOAD_RETRY_AFTER_SECONDS: '7' }
})
const api = calm.config.apiPrefix

// The first sample comes one interval after the start; until then nothing is measured.
for (let waited = 0; !overloaded.isUnderPressure(); waited += 10) {
  if (waited > 10_000) throw new Error('the heap threshold never tripped')
  await new Promise((resolve) => setTimeout(resolve, 10))
}
// The two samples after ready are not acted on (start-up work is not load): let them pass.
await new Promise((resolve) => setTimeout(resolve, 50))

t.test('a saturated instance answers 503 SERVICE_UNAVAILABLE in the error envelope, with Retry-After', async (t) => {
  const alice = await registerUser(calm)
  for (const request of [
    { method: 'GET' as const, url: `${api}/groups`, headers: alice.auth },
    { method: 'POST' as const, url: `${api}/auth/login`, payload: { email: alice.user.email, password: alice.password } },
    { method: 'GET' as const, url: '/ready' }
  ]) {
    const res = await overloaded.inject(request)
    t.equal(res.statusCode, 503, `${request.method} ${request.url}`)
    t.equal(res.headers['retry-after'], '7')
    t.match(res.json(), { success: false, code: 'SERVICE_UNAVAILABLE', error: String, details: { retryAfter: 7, reason: 'heapUsedBytes' }, timestamp: String })
  }
  t.equal(calm.isUnderPressure(), false)
  t.equal((await calm.inject({ method: 'GET', url: `${api}/groups`, headers: alice.auth })).statusCode, 200, 'the calm instance answers')
})

t.test('a refused send stores nothing', async (t) => {
  const alice = await registerUser(calm)
  const bob = await registerUser(calm)
  const groupId = await createGroup(calm, alice, [bob])
  const res = await overloaded.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages`, headers: alice.auth, payload: { content: 'shed', clientMessageId: 'shed-1' } })
  t.equal(res.statusCode, 503)
  const stored = await calm.db.selectFrom('mirror_group_messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(stored.n), 0)
  const retried = await calm.inject({ method: 'POST', url: `${api}/groups/${groupId}/chat/messages`, headers: alice.auth, payload: { content: 'shed', clientMessageId: 'shed-1' } })
  t.equal(retried.statusCode, 201, 'the retry elsewhere is the first send')
  t.equal(retried.json().data.message.seq, 1)
})

t.test('/health and /metrics keep answering', async (t) => {
  const health = await overloaded.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.match(health.json(), { success: true, data: { status: 'ok' } })
  t.equal((await overloaded.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
})

t.test('a new WebSocket is closed with 1013 before its credentials are looked at: its ticket stays unspent', async (t) => {
  const alice = await registerUser(calm)
  const ticket = (await calm.inject({ method: 'POST', url: `${api}/auth/ws-ticket`, headers: alice.auth })).json().data.ticket as string
  const refused = await connectWs(overloaded, { ticket, allowClose: true })
  t.match(await refused.closed, { code: 1013, reason: /overloaded/ })
  t.same(refused.frames, [], 'no frame before the close')
  const accepted = await connectWs(calm, { ticket })
  t.teardown(async () => { await accepted.close() })
  t.match(await accepted.next('chat:sync'), { type: 'chat:sync' })
})

t.test('past OVERLOAD_MAX_IN_FLIGHT requests being worked on, new ones are refused until one ends', async (t) => {
  const app = calm
  const holding = [app.inject({ method: 'GET', url: '/test/hold' }), app.inject({ method: 'GET', url: '/test/hold' })]
  while (app.requestsInFlight() < 2) await new Promise((resolve) => setImmediate(resolve))
  const refused = await app.inject({ method: 'GET', url: `${api}/groups` })
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['retry-after'], '5')
  t.match(refused.json(), { success: false, code: 'SERVICE_UNAVAILABLE', details: { reason: 'requestsInFlight' } })
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health is not counted nor refused')
  release()
  t.same((await Promise.all(holding)).map((res) => res.statusCode), [200, 200])
  t.equal(app.requestsInFlight(), 0, 'every ended request was counted out')
  t.equal((await app.inject({ method: 'GET', url: `${api}/groups` })).statusCode, 401, 'admitted again (and answered by the route)')
})
