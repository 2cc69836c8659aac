import { randomBytes, randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { prepareDatabase } from '../../db/connection.ts'
import type { Caller } from '../../src/modules/membership/guard.ts'
import { BENCH_MYSQL, argValue, cpuMs, databaseServerPid, report } from './lib.ts'

/*
 * The send path without a transport: `chatService.sendMessage`, exactly what the REST route and
 * the WebSocket command call after authentication and the membership guard (validation,
 * AES-GCM, blind index, the seq transaction through the group-commit batcher, events), driven
 * in-process by `--concurrency` producers. send.ts is the same path behind HTTP and a load
 * generator on the same cores; the difference between the two is the transport's cost.
 */
const groups = argValue('groups', 50)
const usersPerGroup = argValue('users-per-group', 4)
const concurrency = argValue('concurrency', 64)
const seconds = argValue('duration', 10)
const database = 'parley_bench_service'

const admin = await createConnection({ uri: BENCH_MYSQL })
await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
const config = loadConfig({
  DATABASE_URL: `${BENCH_MYSQL}/${database}`,
  REDIS_KEY_PREFIX: `pbench:${randomUUID()}:`,
  JWT_SECRET: randomBytes(48).toString('base64url'),
  ENCRYPTION_MASTER_KEY: randomBytes(32).toString('base64'),
  LOG_LEVEL: 'warn'
})
await prepareDatabase(config.databaseUrl)
const app = await buildApp(config)
await app.ready()

try {
  const callers: Caller[] = []
  for (let g = 0; g < groups; g++) {
    const members: Array<{ token: string, user: { id: number, username: string, email: string | null } }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `s${g}_${u}`
      const res = await app.inject({
        method: 'POST',
        url: `${config.apiPrefix}/auth/register`,
        remoteAddress: `198.18.${g}.${u}`,
        payload: { email: `${name}@bench.test`, username: name, password: 'benchmark password' }
      })
      members.push((res.json() as { data: { token: string, user: { id: number, username: string, email: string | null } } }).data)
    }
    const [owner, ...others] = members as [typeof members[number], ...typeof members]
    const created = await app.inject({
      method: 'POST',
      url: `${config.apiPrefix}/groups`,
      headers: { authorization: `Bearer ${owner.token}` },
      payload: { name: `bench ${g}`, memberIds: others.map((m) => m.user.id) }
    })
    const groupId = (created.json() as { data: { group: { id: string } } }).data.group.id
    for (const m of members) {
      const membership = await app.groupService.getMembership(groupId, m.user.id)
      if (membership === null) throw new Error('the bench group has no such member')
      callers.push({ user: await app.verifyAccessToken(m.token), membership })
    }
  }

  const databasePid = databaseServerPid()
  const databaseBefore = databasePid === null ? 0 : cpuMs(databasePid)
  const cpuBefore = process.cpuUsage()
  const latencies: number[] = []
  let next = 0
  const deadline = performance.now() + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const n = next++
      const caller = callers[n % callers.length] as Caller
      const started = performance.now()
      await app.chatService.sendMessage(caller, { content: `benchmark message ${n} about the quarterly café meeting`, clientMessageId: randomUUID() })
      latencies.push(performance.now() - started)
    }
  }))
  const cpu = process.cpuUsage(cpuBefore)
  const databaseMs = databasePid === null ? 0 : cpuMs(databasePid) - databaseBefore
  latencies.sort((a, b) => a - b)
  const sends = latencies.length
  report('service-send', {
    sendsPerSecond: Math.round(sends / seconds),
    p50ms: Math.round(latencies[Math.floor(sends / 2)] ?? 0),
    p99ms: Math.round(latencies[Math.floor(sends * 0.99)] ?? 0),
    concurrency,
    groups,
    serverCpuUsPerSend: Math.round((cpu.user + cpu.system) / Math.max(1, sends)),
    databaseCpuUsPerSend: Math.round(databaseMs * 1000 / Math.max(1, sends))
  })
} finally {
  await app.close()
  await admin.end()
}
