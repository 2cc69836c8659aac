import WebSocket from 'ws'
import { randomUUID } from 'node:crypto'
import { argValue, percentile, report, rssMiB, startParley, stopProcess } from './lib.ts'

/*
 * Parley fanout: one sender, N subscribers joined to one group over WebSocket, M persisted sends
 * (chat:send_message). Measures chat:message events delivered per second, send-to-delivery
 * latency and server memory; fanout-peers.ts runs the same shape on bare `ws` and Socket.IO.
 */
const subscribers = argValue('subscribers', 99)
const messages = argValue('messages', 200)
const parley = await startParley('parley_bench_fanout')
const server = parley.process
const port = parley.port
const post = parley.post

function open (token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mirror/groups/chat?token=${token}`)
  return new Promise((resolve, reject) => { ws.once('open', () => { resolve(ws) }); ws.once('error', reject) })
}

try {
  const users: Array<{ id: number, token: string }> = []
  for (let i = 0; i <= subscribers; i++) {
    const data = await post('/auth/register', { email: `f${i}@bench.test`, username: `fan${i}`, password: 'benchmark password' })
    users.push({ id: (data.user as { id: number }).id, token: data.token as string })
  }
  const [sender, ...watchers] = users as [{ id: number, token: string }, ...Array<{ id: number, token: string }>]
  const group = await post('/groups', { name: 'fanout', memberIds: watchers.map((w) => w.id) }, sender.token)
  const groupId = (group.group as { id: string }).id

  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  let delivered = 0
  const expected = subscribers * messages
  let finish: () => void = () => {}
  const done = new Promise<void>((resolve) => { finish = resolve })
  const sockets = await Promise.all(watchers.map(async (w) => await open(w.token)))
  await Promise.all(sockets.map(async (ws) => {
    const joined = new Promise<void>((resolve) => {
      ws.on('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString('utf8')) as { type: string, payload: { clientMessageId?: string | null } }
        if (frame.type === 'chat:group_joined') resolve()
        if (frame.type !== 'chat:message') return
        const at = sentAt.get(frame.payload.clientMessageId ?? '')
        if (at !== undefined) latencies.push(performance.now() - at)
        delivered += 1
        if (delivered === expected) finish()
      })
    })
    ws.send(JSON.stringify({ type: 'chat:join_group', payload: { groupId } }))
    await joined
  }))

  // The gateway bounds commands in flight per connection: keep a window of unacknowledged sends.
  const sending = await open(sender.token)
  const window = argValue('window', 32)
  let refused = 0
  let inFlight = 0
  let wake: () => void = () => {}
  sending.on('message', (raw: Buffer) => {
    const frame = JSON.parse(raw.toString('utf8')) as { type: string }
    if (frame.type === 'chat:error') refused += 1
    if (frame.type === 'chat:ack' || frame.type === 'chat:error') {
      inFlight -= 1
      wake()
    }
  })
  const started = performance.now()
  for (let i = 0; i < messages; i++) {
    // eslint-disable-next-line no-unmodified-loop-condition -- the ack handler lowers inFlight
    while (inFlight >= window) await new Promise<void>((resolve) => { wake = resolve })
    const clientMessageId = randomUUID()
    sentAt.set(clientMessageId, performance.now())
    inFlight += 1
    sending.send(JSON.stringify({ type: 'chat:send_message', requestId: clientMessageId, payload: { groupId, content: `fanout ${i}`, clientMessageId } }))
  }
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))])
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  report('parley-fanout', {
    subscribers,
    messages,
    delivered,
    refused,
    eventsPerSecond: Math.round(delivered / seconds),
    p50ms: Math.round(percentile(latencies, 0.5)),
    p99ms: Math.round(percentile(latencies, 0.99)),
    serverRssMiB: rssMiB(server.pid ?? 0)
  })
  for (const ws of [...sockets, sending]) ws.close()
} finally {
  await stopProcess(server)
}
