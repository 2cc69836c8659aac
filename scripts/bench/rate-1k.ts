import { loadavg } from 'node:os'
import { argValue, bareWsRig, cpuMs, parleyRig, percentile, PROFILE_PRELOAD, profileDuring, report, socketIoRig, topSelfTime, type FanoutRig } from './lib.ts'

/*
 * Max sustainable rate into one big group (issue 16.2): one sender, `--subscribers` (1,000)
 * subscriber sockets in one group, on bare `ws`, Socket.IO with its Redis adapter and Parley
 * (persisted chat:send_message; a group of 1,001 members: the sender and 1,000 readers joined
 * with chat:join_group). Sends are offered open loop, paced by a timer, in steps of `--step`
 * seconds (4) starting at `--start` msgs/s (8) and growing ×1.25 until a step fails, then one
 * step between the last pass and the fail. A step passes when every message reaches every
 * subscriber within `DRAIN_MS` of the last send and the p99 send→deliver is ≤ `--p99` ms (100).
 * Then `--half` seconds (6) at half the max rate report its p99 (target ≤ 20 ms). `--profile`
 * takes a CPU profile of Parley during one more step at its max rate (at `--start` when none passed) and prints its top
 * self-time functions. Run with `taskset -c 1` (servers on BENCH_SERVER_CPU=0); `--only <name>`.
 */
const subscribers = argValue('subscribers', 1000)
const stepSeconds = argValue('step', 4)
const startRate = argValue('start', 8)
const p99Target = argValue('p99', 100)
const halfSeconds = argValue('half', 6)
const GROWTH = 1.25
const MAX_RATE = 20_000
const TICK_MS = 10
/** A message not everywhere this long after the last send of its step counts as lost. */
const DRAIN_MS = 2000
const profile = process.argv.includes('--profile')
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined

interface Step extends Record<string, number | boolean | undefined> {
  rate: number
  sent: number
  expected: number
  delivered: number
  refused: number
  p50ms: number
  p99ms: number
  ackP50ms?: number
  ackP99ms?: number
  /** CPU used during the step, % of one core: a side at ~100% bounds the rate. */
  serverCpuPct: number
  loadGeneratorCpuPct: number
  passed: boolean
}

/** The run of one rig: message numbers go on across steps, so late deliveries of a step are told apart. */
class Runner {
  private readonly sentAt: number[] = []
  private next = 0
  private stepFirst = 0
  private delivered = 0
  private stale = 0
  private latencies: number[] = []
  private ackLatencies: number[] = []
  private readonly rig: FanoutRig
  constructor (rig: FanoutRig) {
    this.rig = rig
    rig.onAck?.((seq) => {
      const at = this.sentAt[seq]
      if (at !== undefined && seq >= this.stepFirst) this.ackLatencies.push(performance.now() - at)
    })
  }

  readonly received = (seq: number): void => {
    const at = this.sentAt[seq]
    if (at === undefined || seq < this.stepFirst) { this.stale += 1; return }
    this.latencies.push(performance.now() - at)
    this.delivered += 1
  }

  async step (rate: number, seconds: number): Promise<Step> {
    this.stepFirst = this.next
    this.delivered = 0
    this.latencies = []
    this.ackLatencies = []
    const refusedBefore = this.rig.refused()
    const count = Math.max(1, Math.round(rate * seconds))
    const serverPid = this.rig.server.pid ?? 0
    const cpuBefore = { server: cpuMs(serverPid), load: cpuMs(process.pid) }
    const started = performance.now()
    let sent = 0
    // Open loop: at every tick, send what the clock says is due, whatever came back.
    while (sent < count) {
      const due = Math.min(count, Math.floor((performance.now() - started) * rate / 1000) + 1)
      for (; sent < due; sent++) {
        const seq = this.next++
        this.sentAt[seq] = performance.now()
        this.rig.send(0, seq)
      }
      if (sent < count) await new Promise((resolve) => setTimeout(resolve, TICK_MS))
    }
    const expectedOf = (): number => (count - (this.rig.refused() - refusedBefore)) * subscribers
    const deadline = performance.now() + DRAIN_MS
    while (this.delivered < expectedOf() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    const refused = this.rig.refused() - refusedBefore
    const wallMs = performance.now() - started
    const cpuPct = (used: number): number => Math.round(100 * used / wallMs)
    const latencies = this.latencies.sort((a, b) => a - b)
    const acks = this.ackLatencies.sort((a, b) => a - b)
    const p99ms = Math.round(10 * percentile(latencies, 0.99)) / 10
    const result: Step = {
      rate: Math.round(rate),
      sent: count,
      expected: count * subscribers,
      delivered: this.delivered,
      refused,
      p50ms: Math.round(10 * percentile(latencies, 0.5)) / 10,
      p99ms,
      // Send → chat:ack (Parley: the message is committed): the part of the latency before fanout.
      ...(this.rig.onAck === undefined ? {} : { ackP50ms: Math.round(10 * percentile(acks, 0.5)) / 10, ackP99ms: Math.round(10 * percentile(acks, 0.99)) / 10 }),
      serverCpuPct: cpuPct(cpuMs(serverPid) - cpuBefore.server),
      loadGeneratorCpuPct: cpuPct(cpuMs(process.pid) - cpuBefore.load),
      passed: refused === 0 && this.delivered === count * subscribers && p99ms <= p99Target
    }
    if (!result.passed) await this.settle()
    return result
  }

  /** After a failed step: waits until deliveries stop coming (the backlog is gone), at most 30 s. */
  private async settle (): Promise<void> {
    const deadline = performance.now() + 30_000
    let seen = -1
    while (performance.now() < deadline && seen !== this.delivered + this.stale) {
      seen = this.delivered + this.stale
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

interface Outcome { maxRate: number, halfP99ms: number, runner: Runner }

async function search (name: string, rig: FanoutRig): Promise<Outcome> {
  const runner = new Runner(rig)
  await rig.subscribe(0, subscribers, runner.received)
  // Warm up (JIT, pools) and check every subscriber is in: a short step at a low rate.
  const warm = await runner.step(Math.min(5, startRate / 2), 2)
  if (!warm.passed) process.stderr.write(`${name}: warm-up step missed: ${JSON.stringify(warm)}\n`)
  const steps: Step[] = []
  let pass = 0
  let fail = 0
  for (let rate = startRate; rate <= MAX_RATE; rate *= GROWTH) {
    const step = await runner.step(rate, stepSeconds)
    steps.push(step)
    if (!step.passed) { fail = rate; break }
    pass = rate
  }
  // Below the start: halve until a step passes.
  for (let rate = startRate / 2; pass === 0 && rate >= 1; rate /= 2) {
    const step = await runner.step(rate, stepSeconds)
    steps.push(step)
    if (step.passed) pass = rate
  }
  if (pass > 0 && fail > pass) {
    const between = Math.sqrt(pass * fail)
    const step = await runner.step(between, stepSeconds)
    steps.push(step)
    if (step.passed) pass = between
  }
  const half = await runner.step(pass / 2, halfSeconds)
  for (const step of steps) process.stderr.write(`${name} step ${JSON.stringify(step)}\n`)
  report(`rate-1k-${name}`, {
    subscribers,
    maxRate: Math.round(pass),
    firstFailedRate: Math.round(fail),
    maxRateDeliveriesPerSecond: Math.round(pass * subscribers),
    maxRateP99ms: steps.filter((s) => s.passed).at(-1)?.p99ms ?? 0,
    halfRate: Math.round(pass / 2),
    halfRateP50ms: half.p50ms,
    halfRateP99ms: half.p99ms,
    halfRateComplete: String(half.delivered === half.expected),
    ...(half.ackP99ms === undefined ? {} : { halfRateAckP50ms: half.ackP50ms ?? 0, halfRateAckP99ms: half.ackP99ms }),
    steps: steps.length,
    // Other work on the machine moves these figures: the 1-minute load average when done.
    loadAverage: Math.round(10 * (loadavg()[0] ?? 0)) / 10
  })
  return { maxRate: pass, halfP99ms: half.p99ms, runner }
}

const rigs = {
  'bare-ws': async () => await bareWsRig(1),
  'socketio-redis': async () => await socketIoRig(1),
  parley: async () => await parleyRig('parley_bench_rate_1k', 1, subscribers, profile ? { NODE_OPTIONS: `--import=${PROFILE_PRELOAD} ${process.env.BENCH_SERVER_NODE_OPTIONS ?? ''}` } : {})
}
const results = new Map<string, Outcome>()
for (const [name, build] of Object.entries(rigs)) {
  if (only !== undefined && only !== name) continue
  const rig = await build()
  try {
    const outcome = await search(name, rig)
    results.set(name, outcome)
    if (profile && name === 'parley') {
      // At the max rate, or at the start rate when none passed (a profile of an idle server says nothing).
      const rate = Math.max(outcome.maxRate, startRate)
      const { result, profile: path } = await profileDuring(rig.server, async () => await outcome.runner.step(rate, stepSeconds))
      process.stderr.write(`parley profiled step ${JSON.stringify(result)}\n`)
      if (path !== null) {
        process.stderr.write(`profile: ${path}\n`)
        for (const line of topSelfTime(path, 25)) process.stderr.write(`  ${line}\n`)
      }
    }
  } finally {
    await rig.close()
  }
}
const parley = results.get('parley')
const ratio = (peer: string): number => Math.round(100 * (parley?.maxRate ?? 0) / Math.max(1, results.get(peer)?.maxRate ?? 0)) / 100
if (parley !== undefined) {
  report('rate-1k-ratios', {
    ...(results.has('socketio-redis') ? { parleyVsSocketIo: ratio('socketio-redis') } : {}),
    ...(results.has('bare-ws') ? { parleyVsBareWs: ratio('bare-ws') } : {}),
    targetParleyVsSocketIo: 1.3,
    parleyHalfRateP99ms: parley.halfP99ms,
    targetHalfRateP99ms: 20
  })
}
