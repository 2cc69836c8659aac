import WebSocket from 'ws'
import { randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { startRedisCluster, type LocalRedisCluster } from '../../test/helpers/redis-cluster.ts'
import { BENCH_MYSQL, argValue, percentile, report, rssMiB, startParleys, stopProcess } from './lib.ts'

/*
 * Sends and deliveries with the members of each group spread over `--instances` instances of
 * Parley (one database, one Redis or, with `--redis-cluster`, a local 3-master Redis Cluster),
 * as behind a load balancer without sticky sessions. Each user has one WebSocket, on instance
 * (user index mod N), joins their group and keeps `--window` sends unacknowledged. Reported:
 * acknowledged sends per second and ack latency; chat:message deliveries per second and delivery
 * latency (send → another member's socket, across instances through the bus); every ack a row.
 */
const instances = argValue('instances', 2)
const groups = argValue('groups', 50)
const usersPerGroup = argValue('users-per-group', 4)
const window = argValue('window', 2)
const seconds = argValue('duration', 10)
const onCluster = process.argv.includes('--redis-cluster')
const database = 'parley_bench_scale'
const cluster: LocalRedisCluster | null = onCluster ? await startRedisCluster() : null
const servers = await startParleys(database, instances, cluster === null ? {} : { REDIS_URL: cluster.url })
const admin = await createConnection({ uri: BENCH_MYSQL })

interface Member { token: string, groupId: string, instance: number }

function open (member: Member): Promise<WebSocket> {
  const port = servers[member.instance]?.port ?? 0
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mirror/groups/chat?token=${member.token}`)
  return new Promise((resolve, reject) => { ws.once('open', () => { resolve(ws) }); ws.once('error', reject) })
}

async function join (ws: WebSocket, groupId: string): Promise<void> {
  const requestId = randomUUID()
  await new Promise<void>((resolve, reject) => {
    const onFrame = (raw: Buffer): void => {
      const frame = JSON.parse(raw.toString('utf8')) as { type: string, requestId?: string }
      if (frame.requestId !== requestId) return
      ws.off('message', onFrame)
      if (frame.type === 'chat:error') reject(new Error(`join refused: ${raw.toString('utf8')}`))
      else resolve()
    }
    ws.on('message', onFrame)
    ws.send(JSON.stringify({ type: 'chat:join_group', requestId, payload: { groupId } }))
  })
}

async function seed (): Promise<Member[]> {
  const members: Member[] = []
  let index = 0
  for (let g = 0; g < groups; g++) {
    const users: Array<{ id: number, token: string }> = []
    for (let u = 0; u < usersPerGroup; u++) {
      const name = `s${g}_${u}`
      const data = await (servers[0]?.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' }) ?? Promise.reject(new Error('no server')))
      users.push({ id: (data.user as { id: number }).id, token: data.token as string })
    }
    const owner = users[0] as { id: number, token: string }
    const created = await (servers[0]?.post('/groups', { name: `scale ${g}`, memberIds: users.slice(1).map((m) => m.id) }, owner.token) ?? Promise.reject(new Error('no server')))
    for (const user of users) members.push({ token: user.token, groupId: (created.group as { id: string }).id, instance: index++ % instances })
  }
  return members
}

try {
  const members = await seed()
  const sockets = await Promise.all(members.map(async (member) => await open(member)))
  await Promise.all(sockets.map(async (ws, i) => { await join(ws, (members[i] as Member).groupId) }))

  const sentAt = new Map<string, number>()
  const ackMs: number[] = []
  const deliveryMs: number[] = []
  let refused = 0
  let ownMessages = 0
  let sending = true
  let n = 0
  const started = performance.now()
  await Promise.all(sockets.map(async (ws, i) => {
    const { groupId } = members[i] as Member
    const mine = new Set<string>()
    const sentHere = new Set<string>()
    let finished: () => void = () => {}
    const drained = new Promise<void>((resolve) => { finished = resolve })
    const sendOne = (): void => {
      const id = randomUUID()
      sentAt.set(id, performance.now())
      mine.add(id)
      sentHere.add(id)
      ws.send(JSON.stringify({ type: 'chat:send_message', requestId: id, payload: { groupId, content: `scale-out message ${n++}`, clientMessageId: id } }))
    }
    ws.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString('utf8')) as { type: string, requestId?: string, payload: { clientMessageId?: string } }
      if (frame.type === 'chat:message') {
        const id = frame.payload.clientMessageId ?? ''
        // A sender gets its own message only when a gap fill reads it back (at-least-once): not a delivery to another member.
        if (sentHere.has(id)) ownMessages += 1
        else if (sentAt.has(id)) deliveryMs.push(performance.now() - (sentAt.get(id) ?? 0))
        return
      }
      if ((frame.type !== 'chat:ack' && frame.type !== 'chat:error') || !mine.delete(frame.requestId ?? '')) return
      if (frame.type === 'chat:ack') ackMs.push(performance.now() - (sentAt.get(frame.requestId ?? '') ?? 0))
      else refused += 1
      if (sending) sendOne()
      else if (mine.size === 0) finished()
    })
    for (let k = 0; k < window; k++) sendOne()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    sending = false
    if (mine.size === 0) finished()
    await drained
  }))
  const elapsed = (performance.now() - started) / 1000
  // Deliveries of the last sends may still be on their way: a short settle before counting.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const [[counted]] = await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.mirror_group_messages`) as unknown as [[{ n: number }]]
  ackMs.sort((a, b) => a - b)
  deliveryMs.sort((a, b) => a - b)
  report(`parley-scale-out-${instances}x${onCluster ? '-redis-cluster' : ''}`, {
    instances,
    sendsPerSecond: Math.round(ackMs.length / elapsed),
    ackP50ms: Math.round(percentile(ackMs, 0.5)),
    ackP99ms: Math.round(percentile(ackMs, 0.99)),
    deliveriesPerSecond: Math.round(deliveryMs.length / elapsed),
    expectedDeliveries: ackMs.length * (usersPerGroup - 1),
    deliveries: deliveryMs.length,
    ownMessagesGapFilled: ownMessages,
    deliveryP50ms: Math.round(percentile(deliveryMs, 0.5)),
    deliveryP99ms: Math.round(percentile(deliveryMs, 0.99)),
    acked: ackMs.length,
    refused,
    rowsPersisted: Number(counted.n),
    connections: sockets.length,
    serverRssMiB: servers.map((s) => rssMiB(s.process.pid ?? 0)).join('+')
  })
  for (const ws of sockets) ws.close()
} finally {
  for (const server of servers) await stopProcess(server.process)
  await admin.end()
  await cluster?.stop()
}
