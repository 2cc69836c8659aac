import autocannon from 'autocannon'
import { PROFILE_PRELOAD, argValue, cpuMs, freePort, mapLimit, profileDuring, report, startParley, startProcess, stopProcess, topSelfTime } from './lib.ts'

/*
 * A history page (issue 16.5): `GET …/chat/messages?limit=50` of a group with `--messages`
 * messages (real sends, so every page is decrypted, with reactions and read receipts), against
 * bare Fastify answering a GET in the same run. Server CPU per request is the comparable figure.
 * `--profile 1` also writes a CPU profile of Parley's measured window and prints its top
 * functions by self time.
 */
const messages = argValue('messages', 500)
const duration = argValue('duration', 8)
const connections = argValue('connections', 16)
const profile = argValue('profile', 0) === 1

async function measure (url: string, pid: number, headers: Record<string, string> = {}): Promise<{ requestsPerSecond: number, p99ms: number, cpuUsPerRequest: number, bytes: number, non2xx: number }> {
  const before = cpuMs(pid)
  const result = await autocannon({ url, headers, connections, duration })
  const spent = cpuMs(pid) - before
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p99ms: result.latency.p99,
    cpuUsPerRequest: Math.round(spent * 1000 / Math.max(1, result.requests.total)),
    bytes: Math.round(result.throughput.total / Math.max(1, result.requests.total)),
    non2xx: result.non2xx
  }
}

const port = await freePort()
const bare = await startProcess(new URL('./servers/bare-fastify.ts', import.meta.url).pathname, { PORT: String(port) }, `http://127.0.0.1:${port}/health`)
let baseline
try {
  baseline = await measure(`http://127.0.0.1:${port}/health`, bare.pid ?? 0)
} finally {
  await stopProcess(bare)
}

const parley = await startParley('parley_bench_history', profile ? { NODE_OPTIONS: `--import=${PROFILE_PRELOAD} ${process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}` } : {})
try {
  const users: Array<{ id: number, token: string }> = []
  for (let i = 0; i < 3; i++) {
    const data = await parley.post('/auth/register', { email: `h${i}@bench.test`, username: `hist${i}`, password: 'benchmark password' })
    users.push({ id: (data.user as { id: number }).id, token: data.token as string })
  }
  const [owner, ...others] = users as [{ id: number, token: string }, ...Array<{ id: number, token: string }>]
  const created = await parley.post('/groups', { name: 'history', memberIds: others.map((u) => u.id) }, owner.token)
  const groupId = (created.group as { id: string }).id
  // A few sends in flight at once: the setup is not what is measured, and one at a time it waits on a commit each.
  const sent = await mapLimit(Array.from({ length: messages }, (_, i) => i), 8, async (i) => {
    const sender = users[i % users.length] as { token: string }
    const message = (await parley.post(`/groups/${groupId}/chat/messages`, { content: `message ${i}: the quarterly café meeting moves to Thursday, bring the slides and the numbers` }, sender.token)).message as { id: string, seq: number }
    if (i % 10 === 0) await parley.post(`/groups/${groupId}/chat/messages/${message.id}/reactions`, { emoji: '👍' }, owner.token)
    return message
  })
  const newest = sent.reduce((a, b) => (b.seq > a.seq ? b : a))
  await parley.post(`/groups/${groupId}/chat/read`, { messageId: newest.id }, (others[0] as { token: string }).token)
  const url = `http://127.0.0.1:${parley.port}/mirror/api/groups/${groupId}/chat/messages?limit=50`
  const headers = { authorization: `Bearer ${owner.token}` }
  const { result: page, profile: profilePath } = profile
    ? await profileDuring(parley.process, async () => await measure(url, parley.process.pid ?? 0, headers))
    : { result: await measure(url, parley.process.pid ?? 0, headers), profile: null }
  report('bare-fastify-get', baseline)
  report('parley-history-page', { ...page, cpuRatioToBare: Math.round(page.cpuUsPerRequest / Math.max(1, baseline.cpuUsPerRequest) * 10) / 10 })
  if (profilePath !== null) {
    process.stdout.write(`profile: ${profilePath}\n`)
    for (const line of topSelfTime(profilePath, 25)) process.stdout.write(`  ${line}\n`)
  }
} finally {
  await stopProcess(parley.process)
}
