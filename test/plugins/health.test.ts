import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'

t.test('/health answers ok in the envelope', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { status: 'ok' } })
  t.ok(res.headers['x-request-id'])
})

t.test('/ready reports MySQL and Redis up', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const res = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { status: 'ready', mysql: 'up', redis: 'up' } })
})

t.test('an unknown route answers 404 in the error envelope', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const res = await app.inject({ method: 'GET', url: '/nope?token=secret' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { success: false, code: 'NOT_FOUND', error: String })
  t.notMatch(res.body, /secret/)
})
