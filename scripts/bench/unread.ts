import autocannon from 'autocannon'
import { createConnection } from 'mysql2/promise'
import { BENCH_MYSQL, PROFILE_PRELOAD, argValue, cpuMs, databaseServerPid, profileDuring, report, startParley, stopProcess, topSelfTime } from './lib.ts'

/*
 * The chat list does not grow with unread history (issue 16.5): `GET /groups` for a user in
 * `--groups` groups with `--many` unread messages in each, against the same for a user with
 * `--few` per group, in alternating rounds of `--duration` seconds so the machine's drift hits
 * both alike. The messages are bulk rows inserted straight into the database (the next seqs,
 * the group's counter moved with them), then one real send per group, so the chat list's
 * preview is a message the server can decrypt. `--profile 1` also writes a CPU profile of the
 * server over the measured rounds and prints its top functions by self time.
 */
const groups = argValue('groups', 20)
const many = argValue('many', 10_000)
const few = argValue('few', 100)
const rounds = argValue('rounds', 2)
const duration = argValue('duration', 8)
const connections = argValue('connections', 32)
const profile = argValue('profile', 0) === 1
const database = 'parley_bench_unread'
const parley = await startParley(database, profile ? { NODE_OPTIONS: `--import=${PROFILE_PRELOAD} ${process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}` } : {})
const admin = await createConnection({ uri: `${BENCH_MYSQL}/${database}` })

async function register (name: string): Promise<{ id: number, token: string }> {
  const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
  return { id: (data.user as { id: number }).id, token: data.token as string }
}

/** `groups` groups of the reader, each with `unread` messages from the writer after the reader's watermark. */
async function seed (reader: { id: number, token: string }, writer: { id: number, token: string }, unread: number): Promise<void> {
  for (let g = 0; g < groups; g++) {
    const created = await parley.post('/groups', { name: `unread ${unread} ${g}`, memberIds: [reader.id] }, writer.token)
    const groupId = (created.group as { id: string }).id
    const hex = groupId.replace(/-/g, '')
    for (let from = 1; from < unread; from += 5000) {
      const rows = Array.from({ length: Math.min(5000, unread - from) }, (_, i) => `(UNHEX(MD5('${hex}/${from + i}')), UNHEX('${hex}'), ${from + i}, ${writer.id}, 'bulk', 1)`)
      await admin.query(`INSERT INTO mirror_group_messages (id, group_id, seq, sender_user_id, content, content_key_version) VALUES ${rows.join(', ')}`)
    }
    await admin.query(`UPDATE mirror_groups SET last_seq = ${unread - 1} WHERE id = UNHEX('${hex}')`)
    await parley.post(`/groups/${groupId}/chat/messages`, { content: 'the newest one' }, writer.token)
  }
}

const databasePid = databaseServerPid()
const databaseCpuMs = (): number => databasePid === null ? 0 : cpuMs(databasePid)

async function chatList (token: string, unread: number): Promise<{ requests: number, seconds: number, p50ms: number, p99ms: number, cpuMs: number, databaseCpuMs: number }> {
  const pid = parley.process.pid ?? 0
  const before = cpuMs(pid)
  const databaseBefore = databaseCpuMs()
  const run = await autocannon({
    url: `http://127.0.0.1:${parley.port}/mirror/api/groups?limit=${groups}`,
    headers: { authorization: `Bearer ${token}` },
    connections,
    duration
  })
  if (run.non2xx > 0 || run.errors > 0) throw new Error(`${unread} unread: ${run.non2xx} non-2xx, ${run.errors} errors`)
  return { requests: run['2xx'], seconds: run.duration, p50ms: run.latency.p50, p99ms: run.latency.p99, cpuMs: cpuMs(pid) - before, databaseCpuMs: databaseCpuMs() - databaseBefore }
}

try {
  const writer = await register('unreadwriter')
  const readers = { many: await register('manyunread'), few: await register('fewunread') }
  await seed(readers.many, writer, many)
  await seed(readers.few, writer, few)
  await admin.query('ANALYZE TABLE mirror_group_messages')
  // The counts are the ones seeded: the bench measures the real answer.
  for (const [which, reader] of Object.entries(readers)) {
    const res = await fetch(`http://127.0.0.1:${parley.port}/mirror/api/groups?limit=${groups}`, { headers: { authorization: `Bearer ${reader.token}` } })
    const { data } = await res.json() as { data: { groups: Array<{ unreadCount: number }> } }
    const expected = which === 'many' ? many : few
    if (data.groups.length !== groups || data.groups.some((g) => g.unreadCount !== expected)) throw new Error(`${which}: unexpected counts`)
  }
  await chatList(readers.few.token, few) // warm-up
  const zero = (): { requests: number, seconds: number, cpuMs: number, databaseCpuMs: number, p50ms: number, p99ms: number } => ({ requests: 0, seconds: 0, cpuMs: 0, databaseCpuMs: 0, p50ms: 0, p99ms: 0 })
  const totals = { many: zero(), few: zero() }
  const measureRounds = async (): Promise<void> => {
    for (let round = 0; round < rounds; round++) {
      for (const which of ['many', 'few'] as const) {
        const result = await chatList(readers[which].token, which === 'many' ? many : few)
        const total = totals[which]
        total.requests += result.requests
        total.seconds += result.seconds
        total.cpuMs += result.cpuMs
        total.databaseCpuMs += result.databaseCpuMs
        total.p50ms = Math.max(total.p50ms, result.p50ms)
        total.p99ms = Math.max(total.p99ms, result.p99ms)
      }
    }
  }
  const profilePath = profile ? (await profileDuring(parley.process, measureRounds)).profile : (await measureRounds(), null)
  const rate = (which: 'many' | 'few'): number => Math.round(totals[which].requests / totals[which].seconds)
  const perRequestUs = (which: 'many' | 'few', ms: number): number => Math.round(ms * 1000 / Math.max(1, totals[which].requests))
  report('unread-chat-list', {
    groups,
    connections,
    manyUnreadPerGroup: many,
    fewUnreadPerGroup: few,
    manyRequestsPerSecond: rate('many'),
    fewRequestsPerSecond: rate('few'),
    fewVsMany: Math.round(100 * rate('few') / Math.max(1, rate('many'))) / 100,
    manyP50ms: totals.many.p50ms,
    manyP99ms: totals.many.p99ms,
    fewP50ms: totals.few.p50ms,
    fewP99ms: totals.few.p99ms,
    manyServerCpuUsPerRequest: perRequestUs('many', totals.many.cpuMs),
    fewServerCpuUsPerRequest: perRequestUs('few', totals.few.cpuMs),
    manyDatabaseCpuUsPerRequest: perRequestUs('many', totals.many.databaseCpuMs),
    fewDatabaseCpuUsPerRequest: perRequestUs('few', totals.few.databaseCpuMs)
  })
  if (profilePath !== null) {
    process.stdout.write(`profile: ${profilePath}\n`)
    for (const line of topSelfTime(profilePath, 25)) process.stdout.write(`  ${line}\n`)
  }
} finally {
  await admin.end()
  await stopProcess(parley.process)
}
