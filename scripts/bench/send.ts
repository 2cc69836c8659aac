import autocannon from 'autocannon'
import { randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { BENCH_MYSQL, argValue, meterSends, report, rssMiB, startParley, stopProcess } from './lib.ts'

/*
 * Persisted sends per second through the whole REST path (auth, rate limit, membership guard,
 * validation, encryption, blind index, the seq transaction, events), against the same machine's
 * bare Fastify ceiling (http-baseline.ts). Every 201 is a committed row: the bench counts them.
 */
const groups = argValue('groups', 50)
const usersPerGroup = argValue('users-per-group', 4)
const connections = argValue('connections', 64)
const duration = argValue('duration', 10)
const database = 'parley_bench'
const parley = await startParley(database)
const server = parley.process
const post = parley.post
const admin = await createConnection({ uri: BENCH_MYSQL })

try {
  const senders: Array<{ token: string, groupId: string }> = []
  for (let g = 0; g < groups; g++) {
    const members: Array<{ id: number, token: string }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `b${g}_${u}`
      const data = await post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
      members.push({ id: (data.user as { id: number }).id, token: data.token as string })
    }
    const owner = members[0] as { id: number, token: string }
    const created = await post('/groups', { name: `bench ${g}`, memberIds: members.slice(1).map((m) => m.id) }, owner.token)
    const groupId = (created.group as { id: string }).id
    for (const m of members) senders.push({ token: m.token, groupId })
  }

  let next = 0
  const costs = await meterSends(admin, server.pid ?? 0)
  const run = await autocannon({
    url: `http://127.0.0.1:${parley.port}/mirror/api`,
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
  const result = { ok: run['2xx'], failed: run.non2xx + run.errors, seconds: run.duration, p50ms: run.latency.p50, p99ms: run.latency.p99 }
  const { sendsPerCommit, ...cpuPerSend } = await costs(result.ok)
  const [[counted]] = await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.mirror_group_messages`) as unknown as [[{ n: number }]]
  report('parley-send', {
    sendsPerSecond: Math.round(result.ok / result.seconds),
    p50ms: result.p50ms,
    p99ms: result.p99ms,
    responses2xx: result.ok,
    failed: result.failed,
    rowsPersisted: Number(counted.n),
    sendsPerCommit,
    groups,
    connections,
    serverRssMiB: rssMiB(server.pid ?? 0),
    ...cpuPerSend
  })
} finally {
  await stopProcess(server)
  await admin.end()
}
