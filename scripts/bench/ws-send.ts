import WebSocket from 'ws'
import { randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { BENCH_MYSQL, argValue, meterSends, percentile, report, rssMiB, startParley, stopProcess } from './lib.ts'

/*
 * Persisted sends per second over the WebSocket transport (seed 01 §5.4.3 chat:send_message),
 * the path real-time clients send on: one connection per user, each keeping `--window` sends
 * unacknowledged (the gateway runs a connection's commands in order). Every chat:ack is a
 * committed row; the bench counts the rows. send.ts is the same work over REST.
 */
const groups = argValue('groups', 100)
const usersPerGroup = argValue('users-per-group', 4)
const window = argValue('window', 2)
const seconds = argValue('duration', 10)
const database = 'parley_bench_ws'
const parley = await startParley(database)
const server = parley.process
const admin = await createConnection({ uri: BENCH_MYSQL })

interface Sender { token: string, groupId: string }

function open (token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${parley.port}/mirror/groups/chat?token=${token}`)
  return new Promise((resolve, reject) => { ws.once('open', () => { resolve(ws) }); ws.once('error', reject) })
}

try {
  const senders: Sender[] = []
  for (let g = 0; g < groups; g++) {
    const members: Array<{ id: number, token: string }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `w${g}_${u}`
      const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
      members.push({ id: (data.user as { id: number }).id, token: data.token as string })
    }
    const owner = members[0] as { id: number, token: string }
    const created = await parley.post('/groups', { name: `bench ${g}`, memberIds: members.slice(1).map((m) => m.id) }, owner.token)
    const groupId = (created.group as { id: string }).id
    for (const m of members) senders.push({ token: m.token, groupId })
  }
  const sockets = await Promise.all(senders.map(async (s) => await open(s.token)))

  const latencies: number[] = []
  let acked = 0
  let refused = 0
  let sending = true
  let n = 0
  const costs = await meterSends(admin, server.pid ?? 0)
  const started = performance.now()

  await Promise.all(sockets.map(async (ws, i) => {
    const { groupId } = senders[i] as Sender
    const sentAt = new Map<string, number>()
    let finished: () => void = () => {}
    const drained = new Promise<void>((resolve) => { finished = resolve })
    const sendOne = (): void => {
      const requestId = randomUUID()
      sentAt.set(requestId, performance.now())
      ws.send(JSON.stringify({
        type: 'chat:send_message',
        requestId,
        payload: { groupId, content: `benchmark message ${n++} about the quarterly café meeting`, clientMessageId: requestId }
      }))
    }
    ws.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString('utf8')) as { type: string, requestId?: string }
      if (frame.type !== 'chat:ack' && frame.type !== 'chat:error') return
      const at = sentAt.get(frame.requestId ?? '')
      if (at === undefined) return
      sentAt.delete(frame.requestId ?? '')
      if (frame.type === 'chat:ack') {
        acked += 1
        latencies.push(performance.now() - at)
      } else {
        refused += 1
      }
      if (sending) sendOne()
      else if (sentAt.size === 0) finished()
    })
    for (let k = 0; k < window; k++) sendOne()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    sending = false
    if (sentAt.size === 0) finished()
    await drained
  }))

  const elapsed = (performance.now() - started) / 1000
  const { sendsPerCommit, ...cpuPerSend } = await costs(acked)
  const [[counted]] = await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.mirror_group_messages`) as unknown as [[{ n: number }]]
  latencies.sort((a, b) => a - b)
  report('parley-ws-send', {
    sendsPerSecond: Math.round(acked / elapsed),
    p50ms: Math.round(percentile(latencies, 0.5)),
    p99ms: Math.round(percentile(latencies, 0.99)),
    acked,
    refused,
    rowsPersisted: Number(counted.n),
    connections: sockets.length,
    inFlight: sockets.length * window,
    sendsPerCommit,
    serverRssMiB: rssMiB(server.pid ?? 0),
    ...cpuPerSend
  })
  for (const ws of sockets) ws.close()
} finally {
  await stopProcess(server)
  await admin.end()
}
