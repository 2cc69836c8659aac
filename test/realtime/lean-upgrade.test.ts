import t from 'tap'
import { Writable } from 'node:stream'
import WebSocket from 'ws'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { connectWs, wsUrl } from '../helpers/ws.ts'
import { plainQuery } from '../../src/realtime/lean-upgrade.ts'

// Issue 16.3: the common upgrade (a ticket or a token in a plain query) opens without Fastify's
// request pipeline; anything else still goes through the route, which answers it as before.

const lines: string[] = []
const logStream = new Writable({
  write (chunk: Buffer, _encoding, callback) {
    lines.push(...chunk.toString().split('\n').filter((line) => line.length > 0))
    callback()
  }
})
const app = await buildTestApp(t, import.meta.url, { logStream, env: { LOG_LEVEL: 'info' } })

/** Requests to the WebSocket path that went through Fastify (it logs each one it routes). */
const routedUpgrades = (): number => lines.filter((line) => line.includes('incoming request') && line.includes(`"url":"${app.config.ws.path}?`)).length

t.test('a ticket upgrade opens and is admitted without a Fastify request; an unusual query still takes the route', async (t) => {
  const alice = await registerUser(app)
  const issue = async (): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })
    return (res.json() as { data: { ticket: string } }).data.ticket
  }
  const ticket = await issue()
  const before = routedUpgrades()
  const lean = await connectWs(app, { ticket })
  t.same((await lean.next('chat:sync')).payload, { groups: [], unreadNotifications: 0 })
  t.equal(routedUpgrades(), before, 'no request through Fastify for the plain ticket upgrade')
  await lean.close()

  // An extra parameter: the route's schema decides (it allows it), through Fastify.
  const other = await issue()
  const routed = new WebSocket(`${await wsUrl(app)}?ticket=${other}&utm=1`)
  const first = await new Promise<{ type: string }>((resolve, reject) => {
    routed.once('message', (data: Buffer) => { resolve(JSON.parse(data.toString('utf8')) as { type: string }) })
    routed.once('error', reject)
  })
  t.equal(first.type, 'chat:sync')
  t.equal(routedUpgrades(), before + 1, 'the unusual query was routed through Fastify')
  routed.close()
})

t.test('a spent ticket closes with 4001 on the lean path too', async (t) => {
  const alice = await registerUser(app)
  const res = await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/ws-ticket`, headers: alice.auth })
  const ticket = (res.json() as { data: { ticket: string } }).data.ticket
  const first = await connectWs(app, { ticket })
  await first.next('chat:sync')
  const second = await connectWs(app, { ticket, allowClose: true })
  t.equal((await second.closed).code, 4001)
  await first.close()
})

t.test('plainQuery takes only token and ticket, once each, unencoded and within the schema bounds', async (t) => {
  t.same(plainQuery(''), {})
  t.same(plainQuery('ticket=abc_-9'), { ticket: 'abc_-9' })
  t.same(plainQuery('token=a.b.c'), { token: 'a.b.c' })
  t.same(plainQuery('token=a&ticket=b'), { token: 'a', ticket: 'b' })
  t.equal(plainQuery('ticket=a&ticket=b'), null, 'repeated: the schema decides')
  t.equal(plainQuery('ticket=a%20b'), null, 'encoded: Fastify decodes')
  t.equal(plainQuery('ticket=a+b'), null)
  t.equal(plainQuery('ticket'), null)
  t.equal(plainQuery('other=1'), null)
  t.equal(plainQuery(`ticket=${'a'.repeat(257)}`), null, 'over the schema bound: 400 from the route')
  t.same(plainQuery(`ticket=${'a'.repeat(256)}`), { ticket: 'a'.repeat(256) })
})
