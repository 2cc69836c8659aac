import t from 'tap'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { busChannel } from '../../src/lib/store/keys.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { createGroup, sendMessage } from '../helpers/api.ts'
import { connectWs, seqsUntil } from '../helpers/ws.ts'
import { until } from '../helpers/wait.ts'

// DESIGN §6: MySQL is the source of truth, Redis is best effort. Instance A reaches Redis
// through a TCP proxy this test can cut, so the outage touches no other test file.

const REDIS = { host: '127.0.0.1', port: 6379 }

interface RedisProxy {
  url: string
  /** Drops every connection and refuses new ones. */
  cut: () => void
  restore: () => void
  close: () => Promise<void>
}

async function redisProxy (): Promise<RedisProxy> {
  let down = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    if (down) { client.destroy(); return }
    const upstream = connect(REDIS)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `redis://127.0.0.1:${port}`,
    cut () {
      down = true
      for (const s of sockets) s.destroy()
    },
    restore () { down = false },
    async close () {
      down = true
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

const proxy = await redisProxy()
t.teardown(async () => { await proxy.close() })
const env = { RATE_LIMIT_SCALE: '1000' }
const a = await buildTestApp(t, import.meta.url, { env: { ...env, REDIS_URL: proxy.url } })
const b = await buildTestApp(t, import.meta.url, { env })
const direct = new Redis(REDIS)
t.teardown(() => { direct.disconnect() })

async function send (app: FastifyInstance, sender: TestUser, groupId: string, content: string): Promise<number> {
  return (await sendMessage(app, sender, groupId, content)).seq as number
}

t.test('while Redis is down sends commit and local subscribers get them; when it returns, fanout resumes in order', async (t) => {
  const alice = await registerUser(b)
  const bob = await registerUser(b)
  const groupId = await createGroup(b, alice, [bob])
  const onA = await connectWs(a, { token: alice.token })
  const onB = await connectWs(b, { token: bob.token })
  t.teardown(async () => { await Promise.all([onA.close(), onB.close()]) })
  for (const client of [onA, onB]) await client.request('chat:join_group', { groupId })
  const channel = a.config.redisKeyPrefix + busChannel({ groupId })
  const subscribers = async (): Promise<number> => Number(((await direct.pubsub('NUMSUB', channel)) as [string, number])[1])
  await until(async () => await subscribers() === 2)

  await send(a, alice, groupId, 'before')
  t.same(await seqsUntil(onB, 1), [1])
  t.same(await seqsUntil(onA, 1), [1])

  proxy.cut()
  await until(async () => await subscribers() === 1)
  // Each instance's sends commit and reach its own subscribers.
  t.equal(await send(a, alice, groupId, 'during, on A'), 2)
  t.same(await seqsUntil(onA, 2), [2], 'A\'s subscriber got A\'s message without Redis')
  t.equal(await send(b, bob, groupId, 'during, on B'), 3)
  t.same(await seqsUntil(onB, 3), [2, 3], 'B\'s subscriber got B\'s message; the one it missed came from the database first')
  // A WS send on A acks; with Redis away the delivery count is what A knows locally.
  const ack = await onA.request('chat:send_message', { groupId, content: 'over the socket' })
  t.match(ack, { type: 'chat:ack', payload: { success: true, seq: 4, deliveredToCount: 0, queuedForCount: 1 } })
  // Seq 4 itself is not sent back to the socket that sent it (it has the ack), but its arrival
  // made A fill in seq 3, which it missed from B.
  t.same(await seqsUntil(onA, 3), [3], 'A filled the message it missed from B')
  const ready = await a.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503, 'A reports itself not ready while Redis is away')
  // New connections with a token still work: presence falls back to what A knows.
  const late = await connectWs(a, { token: bob.token })
  t.match((await late.next('chat:sync', undefined, 5000)).payload, { groups: [{ groupId, latestSeq: 4 }] })
  await late.close()

  proxy.restore()
  await until(async () => await subscribers() === 2)
  await until(async () => (await a.inject({ method: 'GET', url: '/ready' })).statusCode === 200)
  // No restart: events cross again, and what was missed meanwhile is filled in order.
  t.equal(await send(a, alice, groupId, 'after, on A'), 5)
  t.same(await seqsUntil(onB, 5), [4, 5])
  t.equal(await send(b, bob, groupId, 'after, on B'), 6)
  t.same(await seqsUntil(onA, 6), [5, 6])
  t.same(onA.frames.filter((f) => f.type === 'chat:message').map((f) => f.payload.seq), [1, 2, 3, 5, 6], 'A: every seq once, in order, but its own')
  t.same(onB.frames.filter((f) => f.type === 'chat:message').map((f) => f.payload.seq), [1, 2, 3, 4, 5, 6], 'B: every seq once, in order')
})
