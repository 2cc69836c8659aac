import autocannon from 'autocannon'
import { argValue, cpuMs, freePort, report, startParley, startProcess, stopProcess } from './lib.ts'

/*
 * A history page (issue 16.5): `GET …/chat/messages?limit=50` of a group with `--messages`
 * messages (real sends, so every page is decrypted, with reactions and read receipts), against
 * bare Fastify answering a GET in the same run. Server CPU per request is the comparable figure.
 */
const messages = argValue('messages', 500)
const duration = argValue('duration', 8)
const connections = argValue('connections', 16)

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

const parley = await startParley('parley_bench_history')
try {
  const users = []
  for (let i = 0; i < 3; i++) {
    const data = await parley.post('/auth/register', { email: `h${i}@bench.test`, username: `hist${i}`, password: 'benchmark password' })
    users.push({ id: (data.user as { id: number }).id, token: data.token as string })
  }
  const [owner, ...others] = users as [{ id: number, token: string }, ...Array<{ id: number, token: string }>]
  const created = await parley.post('/groups', { name: 'history', memberIds: others.map((u) => u.id) }, owner.token)
  const groupId = (created.group as { id: string }).id
  let last = ''
  for (let i = 0; i < messages; i++) {
    const sender = users[i % users.length] as { token: string }
    const sent = await parley.post(`/groups/${groupId}/chat/messages`, { content: `message ${i}: the quarterly café meeting moves to Thursday, bring the slides and the numbers` }, sender.token)
    last = (sent.message as { id: string }).id
    if (i % 10 === 0) await parley.post(`/groups/${groupId}/chat/messages/${last}/reactions`, { emoji: '👍' }, owner.token)
  }
  await parley.post(`/groups/${groupId}/chat/read`, { messageId: last }, (others[0] as { token: string }).token)
  const page = await measure(`http://127.0.0.1:${parley.port}/mirror/api/groups/${groupId}/chat/messages?limit=50`, parley.process.pid ?? 0, { authorization: `Bearer ${owner.token}` })
  report('bare-fastify-get', baseline)
  report('parley-history-page', { ...page, cpuRatioToBare: Math.round(page.cpuUsPerRequest / Math.max(1, baseline.cpuUsPerRequest) * 10) / 10 })
} finally {
  await stopProcess(parley.process)
}
