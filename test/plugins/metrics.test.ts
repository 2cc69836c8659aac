import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'
import { parsePrometheusText, sampleValue, type Family } from '../helpers/prometheus.ts'
import { until } from '../helpers/wait.ts'

// GET /metrics (issue 13): Prometheus text with HTTP metrics per route and Parley's own.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

async function scrape (target: FastifyInstance = app, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const res = await target.inject({ method: 'GET', url: '/metrics', headers })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`)
  return parsePrometheusText(res.body)
}

const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => sampleValue(families, name, labels) ?? 0

t.test('/metrics answers Prometheus text that parses strictly', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const families = parsePrometheusText(res.body)
  for (const [name, type] of [
    ['parley_ws_connections', 'gauge'],
    ['parley_ws_subscriptions', 'gauge'],
    ['parley_ws_events_delivered_total', 'counter'],
    ['parley_sends_committed_total', 'counter'],
    ['parley_send_batch_size', 'histogram'],
    ['parley_db_pool_connections', 'gauge'],
    ['parley_bus_publish_failures_total', 'counter'],
    ['parley_instance_info', 'gauge'],
    ['http_request_duration_seconds', 'histogram'],
    ['process_cpu_user_seconds_total', 'counter']
  ] as const) {
    t.equal(families.get(name)?.type, type, `${name} is a ${type}`)
  }
  t.equal(families.get('parley_instance_info')?.samples[0]?.labels.version, '0.1.0')
})

t.test('HTTP requests are counted per route pattern, method and status', async (t) => {
  const user = await registerUser(app)
  const groupId = await createGroup(app, user, [])
  const before = await scrape()
  const route = `${app.config.apiPrefix}/groups/:groupId`
  const labels = { method: 'GET', route, status_code: '200' }
  await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/groups/${groupId}`, headers: user.auth })
  await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/groups/${groupId}`, headers: user.auth })
  const after = await scrape()
  t.equal(value(after, 'http_request_duration_seconds_count', labels) - value(before, 'http_request_duration_seconds_count', labels), 2)
  const routes = new Set(after.get('http_request_duration_seconds')?.samples.map((s) => s.labels.route))
  t.notOk([...routes].some((r) => r?.includes(groupId) === true), 'ids never become labels')
})

t.test('committed sends and their batch sizes are counted', async (t) => {
  const user = await registerUser(app)
  const groupId = await createGroup(app, user, [])
  const before = await scrape()
  await Promise.all(Array.from({ length: 5 }, async (_, i) => await sendMessage(app, user, groupId, `m${i}`)))
  const after = await scrape()
  t.equal(value(after, 'parley_sends_committed_total') - value(before, 'parley_sends_committed_total'), 5)
  t.equal(value(after, 'parley_send_batch_size_sum') - value(before, 'parley_send_batch_size_sum'), 5, 'the batch sizes add up to the sends')
  const batches = value(after, 'parley_send_batch_size_count') - value(before, 'parley_send_batch_size_count')
  t.ok(batches >= 1 && batches <= 5, `${batches} transactions`)
})

t.test('WebSocket connections, subscriptions and delivered events are measured', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const before = await scrape()
  const client = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await client.close() })
  await client.next('chat:sync')
  await client.request('chat:join_group', { groupId })
  const joined = await scrape()
  t.equal(value(joined, 'parley_ws_connections') - value(before, 'parley_ws_connections'), 1)
  t.equal(value(joined, 'parley_ws_subscriptions') - value(before, 'parley_ws_subscriptions'), 1)
  await sendMessage(app, alice, groupId, 'hi bob')
  await client.next('chat:message')
  const delivered = await scrape()
  t.ok(value(delivered, 'parley_ws_events_delivered_total') - value(joined, 'parley_ws_events_delivered_total') >= 1)
  await client.close()
  const closed = await scrape()
  t.equal(value(closed, 'parley_ws_connections'), value(before, 'parley_ws_connections'), 'a closed connection is not counted')
})

t.test('the database pools report the connections in use', async (t) => {
  const connection = await app.sendBatcher.pool.getConnection()
  const held = await scrape()
  connection.release()
  const released = await scrape()
  const inUse = { pool: 'sends', state: 'in_use' }
  t.equal(value(held, 'parley_db_pool_connections', inUse) - value(released, 'parley_db_pool_connections', inUse), 1)
  t.ok(value(released, 'parley_db_pool_connections', { pool: 'queries', state: 'open' }) <= app.config.databasePoolSize)
})

t.test('the webhook outbox adds its metrics when it registers; none exist before', async (t) => {
  t.notOk((await scrape()).has('parley_webhook_outbox_depth'), 'no made-up depth before there is an outbox')
  let depth = 7
  const outbox = app.meter.trackWebhookOutbox({ depth: async () => depth })
  outbox.deliveryFailed()
  outbox.deliveryFailed()
  const families = await scrape()
  t.equal(value(families, 'parley_webhook_outbox_depth'), 7)
  t.equal(value(families, 'parley_webhook_delivery_failures_total'), 2)
  depth = 3
  t.equal(value(await scrape(), 'parley_webhook_outbox_depth'), 3, 'read at every scrape')
  t.equal(await app.meter.webhookOutboxDepth(), 3)
  t.throws(() => app.meter.trackWebhookOutbox({ depth: async () => 0 }), /already registered/)
})

t.test('with METRICS_TOKEN set, /metrics needs it as a bearer token', async (t) => {
  const token = 'prometheus-scrape-token-123'
  const guarded = await buildTestApp(t, import.meta.url, { env: { METRICS_TOKEN: token } })
  t.equal((await guarded.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  const wrong = await guarded.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer not-the-token-at-all' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'UNAUTHORIZED', 'in the error envelope')
  t.ok((await scrape(guarded, { authorization: `Bearer ${token}` })).has('parley_ws_connections'))

  // Two apps in one process keep separate registries: this one counts its own failures only.
  if (guarded.store.backend.kind === 'redis') guarded.store.backend.redis.disconnect()
  guarded.bus.publish({ userId: 1 }, { type: 'chat:unread_count', payload: { groupId: '0190c4a4-0000-7000-8000-000000000000', unreadCount: 0 } })
  // The refusal comes back from Redis: wait for it, then check it was counted once.
  await until(async () => value(await scrape(guarded, { authorization: `Bearer ${token}` }), 'parley_bus_publish_failures_total') > 0)
  t.equal(value(await scrape(guarded, { authorization: `Bearer ${token}` }), 'parley_bus_publish_failures_total'), 1, 'a publish Redis refused is counted')
  t.equal(value(await scrape(), 'parley_bus_publish_failures_total'), 0)
})
