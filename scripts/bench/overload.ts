import autocannon from 'autocannon'
import { Agent, request } from 'node:http'
import { randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { BENCH_MYSQL, argValue, percentile, report, rssMiB, startParley, stopProcess } from './lib.ts'

/*
 * Overload sheds, never collapses (src/plugins/overload.ts). First the sustainable REST send
 * rate is measured closed-loop (send.ts's path: 64 connections). Then sends are offered
 * open-loop at `--factor` (3) times that rate: each send leaves at its scheduled time whether or
 * not earlier ones were answered, as real clients do, and its latency counts from that time.
 * Reported: the accepted sends' latency p50/p99, how many were shed (503 with Retry-After), any
 * other outcome, and whether every acknowledged (201) send is a stored row and nothing else is.
 * `--shedding off` runs the same offer with the thresholds turned off, for comparison.
 */
const groups = argValue('groups', 50)
const usersPerGroup = argValue('users-per-group', 4)
const warmup = argValue('warmup', 8)
const duration = argValue('duration', 10)
const factor = argValue('factor', 3)
const sheddingOff = process.argv.includes('off')
const database = 'parley_bench_overload'
const parley = await startParley(database, sheddingOff ? { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_HEAP_USED_BYTES: '0', OVERLOAD_MAX_IN_FLIGHT: '0' } : {})
const server = parley.process
const admin = await createConnection({ uri: BENCH_MYSQL })

interface Sender { token: string, groupId: string }

async function seed (): Promise<Sender[]> {
  const senders: Sender[] = []
  for (let g = 0; g < groups; g++) {
    const members: Array<{ id: number, token: string }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `o${g}_${u}`
      const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
      members.push({ id: (data.user as { id: number }).id, token: data.token as string })
    }
    const owner = members[0] as { id: number, token: string }
    const created = await parley.post('/groups', { name: `overload ${g}`, memberIds: members.slice(1).map((m) => m.id) }, owner.token)
    for (const m of members) senders.push({ token: m.token, groupId: (created.group as { id: string }).id })
  }
  return senders
}

/** Closed-loop sends for `seconds`: the rate the instance sustains. Its messages count as stored rows too. */
async function sustainableRate (senders: Sender[], seconds: number): Promise<{ perSecond: number, ok: number }> {
  let next = 0
  const run = await autocannon({
    url: `http://127.0.0.1:${parley.port}/mirror/api`,
    connections: 64,
    duration: seconds,
    requests: [{
      method: 'POST',
      setupRequest: (req) => {
        const sender = senders[next++ % senders.length] as Sender
        return {
          ...req,
          path: `/mirror/api/groups/${sender.groupId}/chat/messages`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` },
          body: JSON.stringify({ content: `warm-up message ${next}`, clientMessageId: randomUUID() })
        }
      }
    }]
  })
  return { perSecond: run['2xx'] / run.duration, ok: run['2xx'] }
}

interface Outcomes {
  acceptedMs: number[]
  /** The clientMessageId of every send offered, and of those acknowledged (201). */
  offered: string[]
  acknowledged: string[]
  shed: number
  shedWithoutRetryAfter: number
  other: Map<string, number>
}

/** One send at its scheduled time; its outcome and latency (from `scheduledAt`) are recorded. */
function offer (agent: Agent, sender: Sender, scheduledAt: number, outcomes: Outcomes): Promise<void> {
  const clientMessageId = randomUUID()
  outcomes.offered.push(clientMessageId)
  const body = JSON.stringify({ content: `overload message ${clientMessageId}`, clientMessageId })
  return new Promise((resolve) => {
    const req = request({
      agent,
      host: '127.0.0.1',
      port: parley.port,
      method: 'POST',
      path: `/mirror/api/groups/${sender.groupId}/chat/messages`,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${sender.token}` },
      timeout: 30_000
    }, (res) => {
      res.resume()
      res.on('end', () => {
        if (res.statusCode === 201) {
          outcomes.acceptedMs.push(performance.now() - scheduledAt)
          outcomes.acknowledged.push(clientMessageId)
        } else if (res.statusCode === 503) {
          outcomes.shed += 1
          if (res.headers['retry-after'] === undefined) outcomes.shedWithoutRetryAfter += 1
        } else {
          const key = String(res.statusCode)
          outcomes.other.set(key, (outcomes.other.get(key) ?? 0) + 1)
        }
        resolve()
      })
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', (err) => {
      outcomes.other.set(err.message, (outcomes.other.get(err.message) ?? 0) + 1)
      resolve()
    })
    req.end(body)
  })
}

/** Offers `rate` sends a second for `seconds`, open loop, in 10 ms ticks. */
async function offerOpenLoop (senders: Sender[], rate: number, seconds: number): Promise<Outcomes> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 })
  const outcomes: Outcomes = { acceptedMs: [], offered: [], acknowledged: [], shed: 0, shedWithoutRetryAfter: 0, other: new Map() }
  const pending: Array<Promise<void>> = []
  const start = performance.now()
  let offered = 0
  let next = 0
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor((performance.now() - start) / 1000 * rate)
    for (; offered < due; offered++) {
      const scheduledAt = start + offered / rate * 1000
      pending.push(offer(agent, senders[next++ % senders.length] as Sender, scheduledAt, outcomes))
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await Promise.all(pending)
  agent.destroy()
  return outcomes
}

async function storedClientIds (): Promise<Set<string>> {
  const [rows] = await admin.query(`SELECT client_message_id AS id FROM \`${database}\`.mirror_group_messages WHERE client_message_id IS NOT NULL`) as unknown as [Array<{ id: string }>]
  return new Set(rows.map((row) => row.id))
}

try {
  const senders = await seed()
  const sustained = await sustainableRate(senders, warmup)
  const rate = Math.round(sustained.perSecond * factor)
  const outcomes = await offerOpenLoop(senders, rate, duration)
  const after = await storedClientIds()
  const sorted = outcomes.acceptedMs.sort((x, y) => x - y)
  const missing = outcomes.acknowledged.filter((id) => !after.has(id)).length
  const acknowledged = new Set(outcomes.acknowledged)
  report(sheddingOff ? 'parley-overload-no-shedding' : 'parley-overload', {
    sustainablePerSecond: Math.round(sustained.perSecond),
    offeredPerSecond: rate,
    offered: outcomes.offered.length,
    accepted: outcomes.acknowledged.length,
    acceptedPerSecond: Math.round(outcomes.acknowledged.length / duration),
    acceptedP50ms: Math.round(percentile(sorted, 0.5)),
    acceptedP99ms: Math.round(percentile(sorted, 0.99)),
    shed: outcomes.shed,
    shedWithoutRetryAfter: outcomes.shedWithoutRetryAfter,
    other: JSON.stringify(Object.fromEntries(outcomes.other)),
    acknowledgedNotStored: missing,
    // Offered sends stored without a 201: a shed send must never be; a timed-out one may be.
    storedNotAcknowledged: outcomes.offered.filter((id) => after.has(id) && !acknowledged.has(id)).length,
    serverRssMiB: rssMiB(server.pid ?? 0)
  })
} finally {
  await stopProcess(server)
  await admin.end()
}
