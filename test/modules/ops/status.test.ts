import t from 'tap'
import type { ServerStatus } from '../../../schemas/ops.ts'
import { adminRepository } from '../../../src/modules/admins/repository.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'
import { connectWs } from '../../helpers/ws.ts'
import { parsePrometheusText } from '../../helpers/prometheus.ts'

// GET /status (issue 13): outside the API prefix, for system administrators only.
const app = await buildTestApp(t, import.meta.url)
const admin = await registerUser(app)
await adminRepository(app.db).grant(admin.user.id)

async function status (): Promise<ServerStatus> {
  const res = await app.inject({ method: 'GET', url: '/status', headers: admin.auth })
  if (res.statusCode !== 200) throw new Error(`/status answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { data: ServerStatus }).data
}

t.test('/status answers 401 without a token and 403 to a user who is not a system administrator', async (t) => {
  const anonymous = await app.inject({ method: 'GET', url: '/status' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'UNAUTHORIZED')
  const user = await registerUser(app)
  const refused = await app.inject({ method: 'GET', url: '/status', headers: user.auth })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'FORBIDDEN')
  t.equal((await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/status`, headers: admin.auth })).statusCode, 404, 'outside the API prefix')
})

t.test('/status tells an administrator the version, uptime, instance and the state of MySQL and Redis', async (t) => {
  const data = await status()
  t.match(data, {
    version: '0.1.0',
    instanceId: app.opsService.instanceId,
    draining: false,
    mysql: { state: 'up', poolSize: app.config.databasePoolSize },
    redis: { state: 'up', connection: 'ready' },
    webhookOutbox: null
  })
  t.ok(data.uptimeSeconds >= 0)
  t.ok(Date.parse(data.startedAt) <= Date.now())
  const metrics = parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body)
  t.equal(metrics.get('parley_instance_info')?.samples[0]?.labels.instance_id, data.instanceId, 'the same id as the metrics')
})

t.test('/status counts this instance\'s WebSocket connections and their users', async (t) => {
  const before = await status()
  const user = await registerUser(app)
  const one = await connectWs(app, { token: user.token })
  const two = await connectWs(app, { token: user.token })
  t.teardown(async () => { await Promise.all([one.close(), two.close()]) })
  await Promise.all([one.next('chat:sync'), two.next('chat:sync')])
  const after = await status()
  t.equal(after.connections.websockets - before.connections.websockets, 2)
  t.equal(after.connections.users - before.connections.users, 1)
})

t.test('/status shows the webhook outbox depth once an outbox is registered', async (t) => {
  app.meter.trackWebhookOutbox({ depth: async () => 4 })
  t.same((await status()).webhookOutbox, { depth: 4 })
})

t.test('/status reports Redis down when it does not answer', async (t) => {
  if (app.store.backend.kind === 'redis') app.store.backend.redis.disconnect()
  t.match((await status()).redis, { state: 'down' })
})
