import WebSocket from 'ws'
import { randomUUID } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { io as connectSocketIo } from 'socket.io-client'
import { argValue, cpuMs, databaseServerPid, freePort, percentile, report, startParley, startProcess, stopProcess } from './lib.ts'

/*
 * Fanout efficiency side by side (issue 16.1): `--groups` groups (10) × `--subscribers`
 * subscriber sockets each (100), one sender per group, `--rate` messages per second in all (200)
 * for `--duration` seconds, against bare `ws` (the machine's ceiling), Socket.IO with its Redis
 * adapter (the peer) and Parley (persisted sends over chat:send_message, delivered watermarks
 * on). Reports server CPU seconds per million deliveries and send→receive latency. Run the bench
 * itself on the other core than the servers (`taskset -c 1`; servers go to BENCH_SERVER_CPU=0).
 */
const groups = argValue('groups', 10)
const subscribers = argValue('subscribers', 100)
const rate = argValue('rate', 200)
const duration = argValue('duration', 15)
const TICK_MS = 50
const here = (path: string): string => new URL(path, import.meta.url).pathname
// Peers broadcast a payload about as large as Parley's chat:message event.
const FILLER = 'x'.repeat(320)

interface Rig {
  server: ChildProcess
  /** Subscriber sockets per group, each calling `received(id)` for every message it gets. */
  subscribe: (group: number, received: (id: string) => void) => Promise<void>
  /** Sends one message to a group under `id`. */
  send: (group: number, id: string) => void
  /** Sends the server refused (a full command queue): none of their deliveries is expected. */
  refused: () => number
  close: () => Promise<void>
}

interface Result extends Record<string, number | string> {
  deliveries: number
  expected: number
  cpuSecondsPerMillion: number
  p50ms: number
  p99ms: number
}

async function measure (name: string, rig: Rig): Promise<Result> {
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  let deliveries = 0
  const received = (id: string): void => {
    const at = sentAt.get(id)
    if (at !== undefined) latencies.push(performance.now() - at)
    deliveries += 1
  }
  for (let g = 0; g < groups; g++) await rig.subscribe(g, received)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const pid = rig.server.pid ?? 0
  const database = databaseServerPid()
  const cpuBefore = cpuMs(pid)
  const dbBefore = database === null ? 0 : cpuMs(database)
  const ticks = Math.round(duration * 1000 / TICK_MS)
  const perTick = rate * TICK_MS / 1000
  let sent = 0
  const started = performance.now()
  for (let tick = 0; tick < ticks; tick++) {
    for (let i = 0; i < perTick; i++) {
      const id = randomUUID()
      sentAt.set(id, performance.now())
      rig.send(sent % groups, id)
      sent += 1
    }
    const next = started + (tick + 1) * TICK_MS
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
  }
  const expectedOf = (): number => (sent - rig.refused()) * subscribers
  let expected = expectedOf()
  const deadline = performance.now() + 30_000
  while (deliveries < expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    expected = expectedOf()
  }
  // Deferred work (Parley's delivered watermarks) is part of the cost.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const cpu = cpuMs(pid) - cpuBefore
  const dbCpu = database === null ? 0 : cpuMs(database) - dbBefore
  latencies.sort((a, b) => a - b)
  const result: Result = {
    deliveries,
    expected,
    refusedSends: rig.refused(),
    cpuSecondsPerMillion: Math.round(10 * cpu / 1000 / deliveries * 1e6) / 10,
    databaseCpuSecondsPerMillion: Math.round(10 * dbCpu / 1000 / deliveries * 1e6) / 10,
    p50ms: Math.round(10 * percentile(latencies, 0.5)) / 10,
    p99ms: Math.round(10 * percentile(latencies, 0.99)) / 10
  }
  report(name, { groups, subscribers, rate, duration, ...result })
  return result
}

async function openWs (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return socket
}

async function bareWsRig (): Promise<Rig> {
  const port = await freePort()
  const server = await startProcess(here('servers/bare-ws.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const url = `ws://127.0.0.1:${port}/`
  const senders = await Promise.all(Array.from({ length: groups }, async () => await openWs(url)))
  const all: WebSocket[] = [...senders]
  return {
    server,
    async subscribe (group, received) {
      for (let i = 0; i < subscribers; i++) {
        const socket = await openWs(url)
        all.push(socket)
        socket.on('message', (raw) => { received((JSON.parse(String(raw)) as { id: string }).id) })
        socket.send(JSON.stringify({ join: String(group) }))
      }
    },
    send (group, id) { senders[group]?.send(JSON.stringify({ room: String(group), id, filler: FILLER })) },
    refused: () => 0,
    async close () {
      for (const socket of all) socket.terminate()
      await stopProcess(server)
    }
  }
}

async function socketIoRig (): Promise<Rig> {
  const port = await freePort()
  const server = await startProcess(here('servers/socketio-redis.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const url = `http://127.0.0.1:${port}`
  const open = async (): Promise<ReturnType<typeof connectSocketIo>> => {
    const socket = connectSocketIo(url, { transports: ['websocket'], forceNew: true })
    await new Promise<void>((resolve, reject) => { socket.once('connect', () => { resolve() }); socket.once('connect_error', reject) })
    return socket
  }
  const senders = await Promise.all(Array.from({ length: groups }, open))
  const all = [...senders]
  return {
    server,
    async subscribe (group, received) {
      for (let i = 0; i < subscribers; i++) {
        const socket = await open()
        all.push(socket)
        socket.on('message', (payload: string) => { received((JSON.parse(payload) as { id: string }).id) })
        socket.emit('join', String(group))
      }
      // Joins are fire-and-forget: give the last ones time to land.
      await new Promise((resolve) => setTimeout(resolve, 200))
    },
    send (group, id) { senders[group]?.emit('message', JSON.stringify({ room: String(group), id, filler: FILLER })) },
    refused: () => 0,
    async close () {
      for (const socket of all) socket.close()
      await stopProcess(server)
    }
  }
}

interface ParleyUser { id: number, token: string }

async function parleyRig (): Promise<Rig> {
  const parley = await startParley('parley_bench_fanout_groups')
  const url = `ws://127.0.0.1:${parley.port}/mirror/groups/chat`
  const register = async (name: string): Promise<ParleyUser> => {
    const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
    return { id: (data.user as { id: number }).id, token: data.token as string }
  }
  const readers: ParleyUser[] = []
  for (let i = 0; i < subscribers; i++) readers.push(await register(`reader${i}`))
  const groupIds: string[] = []
  const senders: WebSocket[] = []
  let refused = 0
  for (let g = 0; g < groups; g++) {
    const owner = await register(`sender${g}`)
    const created = await parley.post('/groups', { name: `fanout ${g}`, memberIds: readers.map((r) => r.id) }, owner.token)
    groupIds.push((created.group as { id: string }).id)
    const sender = await openWs(`${url}?token=${owner.token}`)
    sender.on('message', (raw: Buffer) => {
      if ((JSON.parse(raw.toString('utf8')) as { type: string }).type === 'chat:error') refused += 1
    })
    senders.push(sender)
  }
  const all: WebSocket[] = [...senders]
  return {
    server: parley.process,
    async subscribe (group, received) {
      const groupId = groupIds[group] as string
      await Promise.all(readers.map(async (reader) => {
        const socket = await openWs(`${url}?token=${reader.token}`)
        all.push(socket)
        await new Promise<void>((resolve, reject) => {
          socket.on('message', (raw: Buffer) => {
            const frame = JSON.parse(raw.toString('utf8')) as { type: string, payload: { clientMessageId?: string | null } }
            if (frame.type === 'chat:message') received(frame.payload.clientMessageId ?? '')
            else if (frame.type === 'chat:group_joined') resolve()
            else if (frame.type === 'chat:error') reject(new Error(JSON.stringify(frame)))
          })
          socket.send(JSON.stringify({ type: 'chat:join_group', payload: { groupId } }))
        })
      }))
    },
    send (group, id) {
      senders[group]?.send(JSON.stringify({ type: 'chat:send_message', requestId: id, payload: { groupId: groupIds[group], content: `fanout ${id}`, clientMessageId: id } }))
    },
    refused: () => refused,
    async close () {
      for (const socket of all) socket.terminate()
      await stopProcess(parley.process)
    }
  }
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const results = new Map<string, Result>()
for (const [name, build] of [['bare-ws', bareWsRig], ['socketio-redis', socketIoRig], ['parley', parleyRig]] as const) {
  if (only !== undefined && only !== name) continue
  const rig = await build()
  try {
    results.set(name, await measure(`fanout-groups-${name}`, rig))
  } finally {
    await rig.close()
  }
}
const bare = results.get('bare-ws')
const parley = results.get('parley')
const peer = results.get('socketio-redis')
if (bare !== undefined && parley !== undefined) {
  report('fanout-groups-ratios', {
    parleyCpuVsBareWs: Math.round(100 * parley.cpuSecondsPerMillion / bare.cpuSecondsPerMillion) / 100,
    ...(peer === undefined ? {} : { parleyCpuVsSocketIo: Math.round(100 * parley.cpuSecondsPerMillion / peer.cpuSecondsPerMillion) / 100 })
  })
}
