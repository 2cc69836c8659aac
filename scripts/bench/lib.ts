import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createConnection, type Connection } from 'mysql2/promise'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import WebSocket from 'ws'
import { io as connectSocketIo, type Socket as SocketIoClient } from 'socket.io-client'

/** A free TCP port on loopback. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** Resident memory of a process in MiB, from /proc. */
export function rssMiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Math.round(Number(match[1]) / 1024)
}

/**
 * The core benchmarked servers are pinned to (BENCH_SERVER_CPU, default 0; `none` leaves them
 * free), so a server and the load generator (run it with `taskset -c 1`) never share one.
 */
const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '0'
const GC_PRELOAD = new URL('./gc-on-signal.ts', import.meta.url).pathname

/**
 * Starts a Node script as its own process, pinned to the server core, and waits until `url`
 * answers. The process collects its garbage on SIGWINCH (see settledRssKiB).
 */
export async function startProcess (script: string, env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  const nodeOptions = `--expose-gc --import=${GC_PRELOAD} ${env.NODE_OPTIONS ?? process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}`
  const command = SERVER_CPU === 'none' ? [process.execPath, script] : ['taskset', '-c', SERVER_CPU, process.execPath, script]
  const child = spawn(command[0] as string, command.slice(1), { env: { ...process.env, ...env, NODE_OPTIONS: nodeOptions }, stdio: ['ignore', 'ignore', 'inherit'] })
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`)
    try {
      const res = await fetch(readyUrl)
      if (res.ok) return child
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  child.kill('SIGKILL')
  throw new Error(`${script} did not become ready`)
}

export interface SettledMemory {
  /** Resident set, KiB. */
  rssKiB: number
  /** Live JavaScript objects, KiB. */
  heapUsedKiB: number
}

/** A benchmarked server's memory right after a full collection (SIGWINCH, see gc-on-signal.ts). */
export async function settledMemory (child: ChildProcess): Promise<SettledMemory> {
  const pid = child.pid ?? 0
  const report = join(tmpdir(), `bench-memory-${pid}.json`)
  rmSync(report, { force: true })
  child.kill('SIGWINCH')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  const usage = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) as { heapUsed: number } : { heapUsed: 0 }
  return { rssKiB: match === null ? 0 : Number(match[1]), heapUsedKiB: Math.round(usage.heapUsed / 1024) }
}

export async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
  if (child.exitCode === null) child.kill('SIGKILL')
}

/** CPU time (user + system) a process has used so far, in ms, from /proc; 0 when it is not readable. */
export function cpuMs (pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start at ") ": utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND
  } catch {
    return 0
  }
}
const CLOCK_TICKS_PER_SECOND = 100

/** The pid of the local database server (mariadbd or mysqld), to count its CPU too; null when none runs here. */
export function databaseServerPid (): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const name = readFileSync(`/proc/${entry}/comm`, 'utf8').trim()
      if (name === 'mariadbd' || name === 'mysqld') return Number(entry)
    } catch {}
  }
  return null
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

/** Prints one result line as JSON so results can be collected into the README table. */
export function report (name: string, result: Record<string, number | string>): void {
  process.stdout.write(JSON.stringify({ bench: name, ...result }) + '\n')
}

export function argValue (name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`)
  const raw = index >= 0 ? process.argv[index + 1] : undefined
  const value = raw === undefined ? NaN : Number(raw)
  return Number.isFinite(value) ? value : fallback
}

export const BENCH_MYSQL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'

export interface SendCosts extends Record<string, number> {
  /** The group commit's batch size: sends per COMMIT on the database server. */
  sendsPerCommit: number
  /** CPU per persisted send: what bounds throughput when every process shares the machine's cores. */
  serverCpuUsPerSend: number
  databaseCpuUsPerSend: number
  loadGeneratorCpuUsPerSend: number
}

/**
 * Starts counting the CPU of the server, the database and this process (the load generator) and
 * the database's commits; the returned function gives them per send for the sends made since.
 */
export async function meterSends (admin: Connection, serverPid: number): Promise<(sends: number) => Promise<SendCosts>> {
  const commits = async (): Promise<number> => {
    const [[row]] = await admin.query("SHOW GLOBAL STATUS LIKE 'Com_commit'") as unknown as [[{ Value: string }]]
    return Number(row.Value)
  }
  const databasePid = databaseServerPid()
  const databaseCpu = (): number => databasePid === null ? 0 : cpuMs(databasePid)
  const before = { commits: await commits(), server: cpuMs(serverPid), database: databaseCpu(), load: cpuMs(process.pid) }
  return async (sends) => {
    const used = { server: cpuMs(serverPid) - before.server, database: databaseCpu() - before.database, load: cpuMs(process.pid) - before.load }
    const transactions = await commits() - before.commits
    const perSendUs = (ms: number): number => Math.round(ms * 1000 / Math.max(1, sends))
    return {
      sendsPerCommit: Math.round(10 * sends / Math.max(1, transactions)) / 10,
      serverCpuUsPerSend: perSendUs(used.server),
      databaseCpuUsPerSend: perSendUs(used.database),
      loadGeneratorCpuUsPerSend: perSendUs(used.load)
    }
  }
}

export interface ParleyServer {
  process: ChildProcess
  port: number
  /** POSTs JSON to the API and returns the envelope's data; throws on a non-2xx. */
  post: (path: string, body: unknown, token?: string) => Promise<Record<string, unknown>>
}

/**
 * Starts Parley (src/server.ts, its own process) on a freshly dropped database, with limits
 * raised so the seed's per-user rates do not cap a benchmark. BENCH_SERVER_NODE_OPTIONS
 * (e.g. --cpu-prof) and BENCH_POOL_SIZE reach the server; `env` adds or replaces variables.
 */
export async function startParley (database: string, env: Record<string, string> = {}): Promise<ParleyServer> {
  const [server] = await startParleys(database, 1, env)
  if (server === undefined) throw new Error('no server started')
  return server
}

/**
 * Starts `count` instances of Parley on one freshly dropped database, one Redis key prefix and
 * the same secrets, as instances behind a load balancer are: a token of one is valid on all, and
 * the bus carries events between them. The first migrates the database before the others start.
 */
export async function startParleys (database: string, count: number, env: Record<string, string> = {}): Promise<ParleyServer[]> {
  const admin = await createConnection({ uri: BENCH_MYSQL })
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
  await admin.end()
  const shared = {
    DATABASE_URL: `${BENCH_MYSQL}/${database}`,
    REDIS_KEY_PREFIX: `pbench:${randomUUID()}:`,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ENCRYPTION_MASTER_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_SCALE: '1000000',
    DATABASE_POOL_SIZE: process.env.BENCH_POOL_SIZE ?? '20',
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS ?? '',
    ...env
  }
  const servers: ParleyServer[] = []
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort()
      const child = await startProcess(new URL('../../src/server.ts', import.meta.url).pathname, { ...shared, PORT: String(port) }, `http://127.0.0.1:${port}/health`)
      servers.push(parleyServer(child, port))
    }
  } catch (err) {
    // The ones already up would outlive the bench otherwise.
    for (const server of servers) await stopProcess(server.process)
    throw err
  }
  return servers
}

function parleyServer (child: ChildProcess, port: number): ParleyServer {
  const base = `http://127.0.0.1:${port}/mirror/api`
  return {
    process: child,
    port,
    async post (path, body, token) {
      // A loaded machine may make the instance shed (503 + Retry-After): the setup waits and retries, as a client would.
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(base + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body)
        })
        if (res.status === 503 && attempt < 10) {
          await res.body?.cancel()
          await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? 1) * 1000))
          continue
        }
        if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
        return (await res.json() as { data: Record<string, unknown> }).data
      }
    }
  }
}

/** Runs `task` over `items` with at most `limit` running at once (setup work: registrations, connects). */
export async function mapLimit<T, R> (items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index] as T, index)
    }
  }))
  return results
}

export const PROFILE_PRELOAD = new URL('./profile-on-signal.ts', import.meta.url).pathname

/**
 * A CPU profile of `child` (started with `--import=${PROFILE_PRELOAD}` in its NODE_OPTIONS)
 * while `during` runs: the preload starts and stops the profiler on SIGURG. Resolves with the
 * result of `during` and the profile's path (null when none was written).
 */
export async function profileDuring<T> (child: ChildProcess, during: () => Promise<T>): Promise<{ result: T, profile: string | null }> {
  const path = join(tmpdir(), `bench-profile-${child.pid ?? 0}.cpuprofile`)
  rmSync(path, { force: true })
  child.kill('SIGURG')
  const result = await during()
  child.kill('SIGURG')
  const deadline = Date.now() + 15_000
  while (!existsSync(path) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
  // The file is written in one call; give it a moment to be complete.
  await new Promise((resolve) => setTimeout(resolve, 500))
  return { result, profile: existsSync(path) ? path : null }
}

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }

/** The functions with the most self time in a .cpuprofile, as "share% name (file:line)". */
export function topSelfTime (path: string, count: number): string[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[], samples: number[] }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<string, number>()
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) continue
    const file = frame.url.replace(/^.*\/(node_modules\/|src\/)/, '$1')
    const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${file === '' ? '' : ` (${file}:${frame.lineNumber + 1})`}`
    self.set(key, (self.get(key) ?? 0) + 1)
  }
  const total = profile.samples.length
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, samples]) => `${(100 * samples / Math.max(1, total)).toFixed(1)}% ${name}`)
}

/*
 * Fanout rigs shared by fanout-groups.ts and rate-1k.ts: the same shape (a sender per group,
 * subscriber sockets joined to it) on bare `ws` (the machine's ceiling), Socket.IO with its
 * Redis adapter (the peer) and Parley (persisted chat:send_message, chat:join_group). Messages
 * are numbered: a receiver hands the number to `received`, read from the frame without parsing
 * all of it, so the load generator stays cheap with thousands of sockets on its core.
 */

/** Peers broadcast a payload about as large as Parley's chat:message event. */
const FANOUT_FILLER = 'x'.repeat(320)

export interface FanoutRig {
  server: ChildProcess
  /** Opens `count` subscriber sockets to `group` and resolves once they are joined; each calls `received(seq)` per message. */
  subscribe: (group: number, count: number, received: (seq: number) => void) => Promise<void>
  /** Sends message `seq` to a group. */
  send: (group: number, seq: number) => void
  /** Sends the server refused (a full command queue, an error): none of their deliveries is expected. */
  refused: () => number
  /** Calls `acked(seq)` when the server acknowledges message `seq` (Parley only: the peers do not acknowledge). */
  onAck?: (acked: (seq: number) => void) => void
  /** The server's Prometheus metrics text (Parley only). */
  metrics?: () => Promise<string>
  close: () => Promise<void>
}

export async function openWs (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return socket
}

async function openSocketIo (url: string): Promise<SocketIoClient> {
  const socket = connectSocketIo(url, { transports: ['websocket'], forceNew: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => { resolve() }); socket.once('connect_error', reject) })
  return socket
}

const DIGIT_0 = 48
const DIGIT_9 = 57

/** The decimal number right after `marker` in `data` (a Buffer or a string); -1 when absent. */
function numberAfter (data: Buffer | string, marker: string): number {
  const at = data.indexOf(marker)
  if (at < 0) return -1
  let value = 0
  for (let i = at + marker.length; i < data.length; i++) {
    const code = typeof data === 'string' ? data.charCodeAt(i) : data[i] as number
    if (code < DIGIT_0 || code > DIGIT_9) break
    value = value * 10 + code - DIGIT_0
  }
  return value
}

const PEER_SEQ = '"seq":'
const peerFrame = (group: number, seq: number): string => `{"seq":${seq},"room":"${group}","filler":"${FANOUT_FILLER}"}`

const benchServer = (script: string): string => new URL(script, import.meta.url).pathname

export async function bareWsRig (groups: number): Promise<FanoutRig> {
  const port = await freePort()
  const server = await startProcess(benchServer('servers/bare-ws.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const url = `ws://127.0.0.1:${port}/`
  const senders = await Promise.all(Array.from({ length: groups }, async () => await openWs(url)))
  const all: WebSocket[] = [...senders]
  return {
    server,
    async subscribe (group, count, received) {
      const sockets = await mapLimit(Array.from({ length: count }), 100, async () => await openWs(url))
      for (const socket of sockets) {
        all.push(socket)
        socket.on('message', (raw: Buffer) => { received(numberAfter(raw, PEER_SEQ)) })
        socket.send(JSON.stringify({ join: String(group) }))
      }
      // Joins are not answered: a ping round trip after them on each socket means they were read.
      await Promise.all(sockets.map(async (socket) => await new Promise((resolve) => { socket.once('pong', resolve); socket.ping() })))
    },
    send (group, seq) { senders[group]?.send(peerFrame(group, seq)) },
    refused: () => 0,
    async close () {
      for (const socket of all) socket.terminate()
      await stopProcess(server)
    }
  }
}

export async function socketIoRig (groups: number): Promise<FanoutRig> {
  const port = await freePort()
  const server = await startProcess(benchServer('servers/socketio-redis.ts'), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  const url = `http://127.0.0.1:${port}`
  const senders = await Promise.all(Array.from({ length: groups }, async () => await openSocketIo(url)))
  const all = [...senders]
  return {
    server,
    async subscribe (group, count, received) {
      const sockets = await mapLimit(Array.from({ length: count }), 100, async () => await openSocketIo(url))
      for (const socket of sockets) {
        all.push(socket)
        socket.on('message', (payload: string) => { received(numberAfter(payload, PEER_SEQ)) })
        socket.emit('join', String(group))
      }
      // Joins are fire-and-forget: give the last ones time to land.
      await new Promise((resolve) => setTimeout(resolve, 500))
    },
    send (group, seq) { senders[group]?.emit('message', peerFrame(group, seq)) },
    refused: () => 0,
    async close () {
      for (const socket of all) socket.close()
      await stopProcess(server)
    }
  }
}

export interface ParleyUser { id: number, token: string }

export async function registerUser (parley: ParleyServer, name: string): Promise<ParleyUser> {
  const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
  return { id: (data.user as { id: number }).id, token: data.token as string }
}

/** POST /groups takes up to this many memberIds; the rest join through POST …/members. */
const CREATE_MEMBER_IDS = 100
const PARLEY_MESSAGE = Buffer.from('"type":"chat:message"')
const PARLEY_SEQ = '"clientMessageId":"bench-'
const PARLEY_ACK = Buffer.from('"type":"chat:ack"')
const PARLEY_REQUEST = '"requestId":"bench-'

/**
 * Parley with `groups` groups, each owned by its sender and holding the same `readers`
 * registered users (argon2 hashing makes registration the slow part of the setup). A reader has
 * one socket per group it is subscribed to. `env` reaches the server (startParley).
 */
export async function parleyRig (database: string, groups: number, readers: number, env: Record<string, string> = {}): Promise<FanoutRig> {
  const parley = await startParley(database, env)
  const url = `ws://127.0.0.1:${parley.port}/mirror/groups/chat`
  const members = await mapLimit(Array.from({ length: readers }), 8, async (_, i) => await registerUser(parley, `reader${i}`))
  const groupIds: string[] = []
  const senders: WebSocket[] = []
  let refused = 0
  let acked: (seq: number) => void = () => {}
  for (let g = 0; g < groups; g++) {
    const owner = await registerUser(parley, `sender${g}`)
    const created = await parley.post('/groups', { name: `fanout ${g}`, memberIds: members.slice(0, CREATE_MEMBER_IDS).map((r) => r.id) }, owner.token)
    const groupId = (created.group as { id: string }).id
    await mapLimit(members.slice(CREATE_MEMBER_IDS), 16, async (member) => await parley.post(`/groups/${groupId}/members`, { userId: member.id }, owner.token))
    groupIds.push(groupId)
    const sender = await openWs(`${url}?token=${owner.token}`)
    sender.on('message', (raw: Buffer) => {
      if (raw.includes(PARLEY_ACK)) acked(numberAfter(raw, PARLEY_REQUEST))
      else if ((JSON.parse(raw.toString('utf8')) as { type: string }).type === 'chat:error') refused += 1
    })
    senders.push(sender)
  }
  const all: WebSocket[] = [...senders]
  return {
    server: parley.process,
    async subscribe (group, count, received) {
      const groupId = groupIds[group] as string
      await mapLimit(members.slice(0, count), 100, async (reader) => {
        const socket = await openWs(`${url}?token=${reader.token}`)
        all.push(socket)
        await new Promise<void>((resolve, reject) => {
          socket.on('message', (raw: Buffer) => {
            if (raw.includes(PARLEY_MESSAGE)) { received(numberAfter(raw, PARLEY_SEQ)); return }
            const frame = JSON.parse(raw.toString('utf8')) as { type: string }
            if (frame.type === 'chat:group_joined') resolve()
            else if (frame.type === 'chat:error') reject(new Error(JSON.stringify(frame)))
          })
          socket.send(JSON.stringify({ type: 'chat:join_group', payload: { groupId } }))
        })
      })
    },
    send (group, seq) {
      const id = `bench-${seq}`
      senders[group]?.send(`{"type":"chat:send_message","requestId":"${id}","payload":{"groupId":"${groupIds[group] ?? ''}","content":"fanout ${seq}","clientMessageId":"${id}"}}`)
    },
    refused: () => refused,
    onAck: (fn) => { acked = fn },
    metrics: async () => await (await fetch(`http://127.0.0.1:${parley.port}/metrics`)).text(),
    async close () {
      for (const socket of all) socket.terminate()
      await stopProcess(parley.process)
    }
  }
}
