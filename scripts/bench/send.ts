import autocannon from 'autocannon'
import { randomBytes, randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { argValue, freePort, report, rssMiB, startProcess, stopProcess } from './lib.ts'

/*
 * Persisted sends per second through the whole REST path (auth, rate limit, membership guard,
 * validation, encryption, blind index, the seq transaction, events), against the same machine's
 * bare Fastify ceiling (http-baseline.ts). Every 201 is a committed row: the bench counts them.
 */
const groups = argValue('groups', 50)
const usersPerGroup = argValue('users-per-group', 4)
const connections = argValue('connections', 64)
const duration = argValue('duration', 10)
const MYSQL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const database = 'parley_bench'

const admin = await createConnection({ uri: MYSQL })
await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)

const port = await freePort()
const base = `http://127.0.0.1:${port}/mirror/api`
const server = await startProcess(new URL('../../src/server.ts', import.meta.url).pathname, {
  PORT: String(port),
  DATABASE_URL: `${MYSQL}/${database}`,
  REDIS_KEY_PREFIX: `pbench:${randomUUID()}:`,
  JWT_SECRET: randomBytes(48).toString('base64url'),
  ENCRYPTION_MASTER_KEY: randomBytes(32).toString('base64'),
  // The seed's per-user limits would cap a bench at 30 sends a minute per user.
  RATE_LIMIT_SCALE: '1000000',
  DATABASE_POOL_SIZE: process.env.BENCH_POOL_SIZE ?? '20',
  LOG_LEVEL: 'warn',
  // BENCH_SERVER_NODE_OPTIONS=--cpu-prof profiles the server under load.
  NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS ?? ''
}, `http://127.0.0.1:${port}/health`)

async function post (path: string, body: unknown, token?: string): Promise<{ data: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as { data: Record<string, unknown> }
}

try {
  const senders: Array<{ token: string, groupId: string }> = []
  for (let g = 0; g < groups; g++) {
    const members: Array<{ id: number, token: string }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `b${g}_${u}`
      const { data } = await post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
      members.push({ id: (data.user as { id: number }).id, token: data.token as string })
    }
    const owner = members[0] as { id: number, token: string }
    const { data } = await post('/groups', { name: `bench ${g}`, memberIds: members.slice(1).map((m) => m.id) }, owner.token)
    const groupId = (data.group as { id: string }).id
    for (const m of members) senders.push({ token: m.token, groupId })
  }

  let next = 0
  const result = await autocannon({
    url: base,
    connections,
    duration,
    requests: [{
      method: 'POST',
      setupRequest: (request) => {
        const sender = senders[next++ % senders.length] as { token: string, groupId: string }
        return {
          ...request,
          path: `/mirror/api/groups/${sender.groupId}/chat/messages`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` },
          body: JSON.stringify({ content: `benchmark message ${next} about the quarterly café meeting`, clientMessageId: randomUUID() })
        }
      }
    }]
  })

  const [[counted]] = await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.mirror_group_messages`) as unknown as [[{ n: number }]]
  report('parley-send', {
    sendsPerSecond: Math.round(result['2xx'] / result.duration),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    responses2xx: result['2xx'],
    non2xx: result.non2xx,
    rowsPersisted: Number(counted.n),
    groups,
    connections,
    serverRssMiB: rssMiB(server.pid ?? 0)
  })
} finally {
  await stopProcess(server)
  await admin.end()
}
