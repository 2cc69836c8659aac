import WebSocket from 'ws'
import type { ChildProcess } from 'node:child_process'
import { io as connectSocketIo, type Socket } from 'socket.io-client'
import { argValue, cpuMs, databaseServerPid, freePort, PROFILE_PRELOAD, profileDuring, report, settledMemory, startParley, startProcess, stopProcess, topSelfTime } from './lib.ts'

/*
 * Connection cost side by side (issue 16.3): `--sockets` WebSocket connections (5,000) opened
 * with `--in-flight` (200) at a time, against bare `ws`, Socket.IO with its Redis adapter and
 * Parley (ticket auth: POST /auth/ws-ticket, then `?ticket=`; a connection counts once
 * chat:sync arrives, i.e. authenticated, admitted by presence and synced). Reports connects per
 * second (tickets are bought before the clock starts, in batches that stay within their 30 s)
 * and memory per idle socket: the server's RSS after a full GC with every socket open, minus
 * the same before opening any (and the same for live JavaScript objects, heapKibPerSocket), and
 * the server's CPU per connect (serverCpuUsPerConnect: comparable on a loaded machine, where
 * rates are not). Run with `taskset -c 1` (servers on BENCH_SERVER_CPU=0). `--profile` takes a
 * CPU profile of Parley while it opens the first batch and prints its top functions.
 */
const sockets = argValue('sockets', 5000)
const inFlight = argValue('in-flight', 200)
const usersCount = argValue('users', 500)
const profile = process.argv.includes('--profile')
const TICKET_BATCH = 1000
const here = (path: string): string => new URL(path, import.meta.url).pathname

interface Rig {
  server: ChildProcess
  /** Prepares the next `count` connections (untimed): Parley buys their tickets. */
  prepare: (count: number) => Promise<void>
  /** Opens the next prepared connection; resolves once it is usable. */
  open: () => Promise<void>
  close: () => Promise<void>
}

async function measure (name: string, rig: Rig): Promise<Record<string, number>> {
  const before = await settledMemory(rig.server)
  let openMs = 0
  let serverCpuMs = 0
  let databaseCpuMs = 0
  let loadCpuMs = 0
  const pid = rig.server.pid ?? 0
  // Where a connect's time goes besides the server: the database and the load generator.
  const databasePid = databaseServerPid()
  for (let done = 0; done < sockets; done += TICKET_BATCH) {
    const batch = Math.min(TICKET_BATCH, sockets - done)
    await rig.prepare(batch)
    const started = performance.now()
    const cpuBefore = cpuMs(pid)
    const databaseBefore = databasePid === null ? 0 : cpuMs(databasePid)
    const loadBefore = cpuMs(process.pid)
    let next = 0
    const openBatch = async (): Promise<void> => {
      await Promise.all(Array.from({ length: Math.min(inFlight, batch) }, async () => {
        while (next < batch) {
          next += 1
          await rig.open()
        }
      }))
    }
    if (profile && name === 'connections-parley' && done === 0) {
      const { profile: path } = await profileDuring(rig.server, openBatch)
      if (path !== null) process.stderr.write(`profile: ${path}\n${topSelfTime(path, 25).join('\n')}\n`)
    } else {
      await openBatch()
    }
    openMs += performance.now() - started
    serverCpuMs += cpuMs(pid) - cpuBefore
    databaseCpuMs += databasePid === null ? 0 : cpuMs(databasePid) - databaseBefore
    loadCpuMs += cpuMs(process.pid) - loadBefore
  }
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const after = await settledMemory(rig.server)
  const result = {
    sockets,
    inFlight,
    connectsPerSecond: Math.round(sockets / (openMs / 1000)),
    serverCpuUsPerConnect: Math.round(1000 * serverCpuMs / sockets),
    databaseCpuUsPerConnect: Math.round(1000 * databaseCpuMs / sockets),
    loadGeneratorCpuUsPerConnect: Math.round(1000 * loadCpuMs / sockets),
    kibPerSocket: Math.round(10 * (after.rssKiB - before.rssKiB) / sockets) / 10,
    heapKibPerSocket: Math.round(10 * (after.heapUsedKiB - before.heapUsedKiB) / sockets) / 10,
    rssBeforeMiB: Math.round(before.rssKiB / 1024),
    rssAfterMiB: Math.round(after.rssKiB / 1024)
  }
  report(name, result)
  return result
}

async function bareWsRig (): Promise<Rig> {
  const port = await freePort()
  const server = await startProcess(here('servers/bare-ws.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const open: WebSocket[] = []
  return {
    server,
    async prepare () {},
    async open () {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })
      await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
      open.push(socket)
    },
    async close () {
      for (const socket of open) socket.terminate()
      await stopProcess(server)
    }
  }
}

async function socketIoRig (): Promise<Rig> {
  const port = await freePort()
  const server = await startProcess(here('servers/socketio-redis.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const open: Socket[] = []
  return {
    server,
    async prepare () {},
    async open () {
      const socket = connectSocketIo(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false })
      await new Promise<void>((resolve, reject) => { socket.once('connect', () => { resolve() }); socket.once('connect_error', reject) })
      open.push(socket)
    },
    async close () {
      for (const socket of open) socket.close()
      await stopProcess(server)
    }
  }
}

async function parleyRig (): Promise<Rig> {
  const parley = await startParley('parley_bench_connections', {
    WS_MAX_CONNECTIONS_PER_USER: String(Math.ceil(sockets / usersCount)),
    // What is measured is the cost of a connection, not shedding: on a shared machine (or under
    // the profiler) the event loop's delay would otherwise close connects with 1013.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...(profile ? { NODE_OPTIONS: `--import=${PROFILE_PRELOAD} ${process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}` } : {})
  })
  const tokens: string[] = []
  const ids: number[] = []
  for (let i = 0; i < usersCount; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, usersCount - i) }, async (_, j) => {
      const name = `conn${i + j}`
      const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
      tokens[i + j] = data.token as string
      ids[i + j] = (data.user as { id: number }).id
    }))
  }
  // Every user is in two groups of ten, so chat:sync has something to say.
  for (let g = 0; g < usersCount / 5; g++) {
    const members = Array.from({ length: 10 }, (_, k) => ids[(g * 5 + k) % usersCount] as number)
    await parley.post('/groups', { name: `room ${g}`, memberIds: members.slice(1) }, tokens[(g * 5) % usersCount])
  }
  const url = `ws://127.0.0.1:${parley.port}/mirror/groups/chat`
  let issued = 0
  let tickets: string[] = []
  const open: WebSocket[] = []
  return {
    server: parley.process,
    async prepare (count) {
      tickets = []
      for (let i = 0; i < count; i += 50) {
        const bought = await Promise.all(Array.from({ length: Math.min(50, count - i) }, async () => {
          const token = tokens[issued++ % usersCount] as string
          return (await parley.post('/auth/ws-ticket', {}, token)).ticket as string
        }))
        tickets.push(...bought)
      }
    },
    async open () {
      const ticket = tickets.pop() as string
      const socket = new WebSocket(`${url}?ticket=${ticket}`, { perMessageDeflate: false })
      await new Promise<void>((resolve, reject) => {
        socket.on('message', (raw: Buffer) => {
          if ((JSON.parse(raw.toString('utf8')) as { type: string }).type === 'chat:sync') resolve()
        })
        socket.once('close', (code) => { reject(new Error(`closed with ${code}`)) })
        socket.once('error', reject)
      })
      open.push(socket)
    },
    async close () {
      for (const socket of open) socket.terminate()
      await stopProcess(parley.process)
    }
  }
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const results = new Map<string, Record<string, number>>()
for (const [name, build] of [['bare-ws', bareWsRig], ['socketio-redis', socketIoRig], ['parley', parleyRig]] as const) {
  if (only !== undefined && only !== name) continue
  const rig = await build()
  try {
    results.set(name, await measure(`connections-${name}`, rig))
  } finally {
    await rig.close()
  }
}
const bare = results.get('bare-ws')
const parley = results.get('parley')
if (bare !== undefined && parley !== undefined) {
  report('connections-ratios', {
    parleyMemoryVsBareWs: Math.round(100 * (parley.kibPerSocket ?? 0) / (bare.kibPerSocket ?? 1)) / 100,
    parleyConnectsVsBareWs: Math.round(100 * (parley.connectsPerSecond ?? 0) / (bare.connectsPerSecond ?? 1)) / 100
  })
}
