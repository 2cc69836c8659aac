import { argValue, bareWsRig, cpuMs, databaseServerPid, parleyRig, percentile, PROFILE_PRELOAD, profileDuring, report, socketIoRig, topSelfTime, type FanoutRig } from './lib.ts'

/*
 * Fanout efficiency side by side (issue 16.1): `--groups` groups (10) × `--subscribers`
 * subscriber sockets each (100), one sender per group, `--rate` messages per second in all (200)
 * for `--duration` seconds, against bare `ws` (the machine's ceiling), Socket.IO with its Redis
 * adapter (the peer) and Parley (persisted sends over chat:send_message, delivered watermarks
 * on). Reports server CPU seconds per million deliveries and send→receive latency. Run the bench
 * itself on the other core than the servers (`taskset -c 1`; servers go to BENCH_SERVER_CPU=0).
 * `--profile` takes a CPU profile of Parley over its measured window and prints its top self time.
 */
const groups = argValue('groups', 10)
const subscribers = argValue('subscribers', 100)
const rate = argValue('rate', 200)
const duration = argValue('duration', 15)
const TICK_MS = 50
const profile = process.argv.includes('--profile')
/** Where the subscribers' deliveries go: set by each measured run. */
let received: (seq: number) => void = () => {}

interface Result extends Record<string, number | string> {
  deliveries: number
  expected: number
  cpuSecondsPerMillion: number
  p50ms: number
  p99ms: number
}

async function measure (name: string, rig: FanoutRig, profiled = false): Promise<Result> {
  for (let g = 0; g < groups; g++) await rig.subscribe(g, subscribers, (seq) => { received(seq) })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const pid = rig.server.pid ?? 0
  if (profiled) {
    const { result, profile: path } = await profileDuring(rig.server, async () => await measured(name, rig, pid))
    if (path !== null) {
      process.stderr.write(`profile: ${path}\n`)
      for (const line of topSelfTime(path, 30)) process.stderr.write(`  ${line}\n`)
    }
    return result
  }
  return await measured(name, rig, pid)
}

/** Send transactions committed so far and the messages they carried (Parley's metrics), or null for a peer. */
async function commitsOf (rig: FanoutRig): Promise<{ commits: number, messages: number } | null> {
  if (rig.metrics === undefined) return null
  const text = await rig.metrics()
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  return { commits: value('parley_send_batch_size_count'), messages: value('parley_send_batch_size_sum') }
}

/** Sends for `duration` seconds, waits for every delivery, and reports the server's CPU per delivery. */
async function measured (name: string, rig: FanoutRig, pid: number): Promise<Result> {
  const sentAt: number[] = []
  const latencies: number[] = []
  let deliveries = 0
  received = (seq: number): void => {
    const at = sentAt[seq]
    if (at !== undefined) latencies.push(performance.now() - at)
    deliveries += 1
  }
  const batchesBefore = await commitsOf(rig)
  const database = databaseServerPid()
  const cpuBefore = cpuMs(pid)
  const dbBefore = database === null ? 0 : cpuMs(database)
  const ticks = Math.round(duration * 1000 / TICK_MS)
  const perTick = rate * TICK_MS / 1000
  let sent = 0
  const started = performance.now()
  for (let tick = 0; tick < ticks; tick++) {
    for (let i = 0; i < perTick; i++) {
      sentAt[sent] = performance.now()
      rig.send(sent % groups, sent)
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
  const batchesAfter = await commitsOf(rig)
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
  if (batchesBefore !== null && batchesAfter !== null) {
    const commits = batchesAfter.commits - batchesBefore.commits
    result.messagesPerCommit = Math.round(100 * (batchesAfter.messages - batchesBefore.messages) / Math.max(1, commits)) / 100
  }
  report(name, { groups, subscribers, rate, duration, ...result })
  return result
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const results = new Map<string, Result>()
const rigs = {
  'bare-ws': async () => await bareWsRig(groups),
  'socketio-redis': async () => await socketIoRig(groups),
  parley: async () => await parleyRig('parley_bench_fanout_groups', groups, subscribers, profile ? { NODE_OPTIONS: `--import=${PROFILE_PRELOAD} ${process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}` } : {})
}
for (const [name, build] of Object.entries(rigs)) {
  if (only !== undefined && only !== name) continue
  const rig = await build()
  try {
    results.set(name, await measure(`fanout-groups-${name}`, rig, profile && name === 'parley'))
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
