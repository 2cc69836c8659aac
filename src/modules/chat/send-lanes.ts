import type { Pool } from 'mysql2/promise'
import { isDeadlock } from '../../../db/errors.ts'
import { store } from './send-batch-commit.ts'
import type { PendingMessage, SendOutcome } from './send-batcher.ts'

/*
 * The batcher's lanes: which lane a send joins, when a lane's next transaction starts (at the
 * end of the turn, or after a linger), how many sends it carries, and how each waiting send
 * hears its outcome (a failed batch retried one send at a time).
 */

/**
 * Groups are spread over this many lanes, each with at most one transaction in flight. A group
 * always uses the same lane, so concurrent transactions never wait on each other's group row
 * locks; sends that arrive while their lane is busy are gathered into its next transaction.
 * The statement pool holds one connection per lane. Few lanes make big batches, and a batch's
 * statements cost both sides the same whatever its size: on 2 cores, 2 lanes carried ~14 sends
 * a commit and 8 lanes ~7, at ~25% more CPU per send (scripts/bench/send.ts).
 */
export const SEND_LANES = 2
export const MAX_BATCH_MESSAGES = 128
/** Sealed content, metadata and tokens per batch, far below max_allowed_packet (16 MiB on MariaDB) even hex-encoded. */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024
/**
 * The longest an idle lane holds a send for others to share its transaction, and only while
 * sends keep coming that close together (lingerPays). At 200 sends/s in bursts (the fanout
 * bench) a lane otherwise commits each burst's first send alone and the rest in a second
 * transaction; holding it commits the burst in one, for about half the transactions' CPU on
 * both sides. A lone sender, or sends further apart than this, never waits.
 */
export const LINGER_MS = 2
/** closeArrivals counts up to this (arrivals within LINGER_MS) and down to 0 (further apart). */
const CLOSE_ARRIVALS_MAX = 8
/** Lingering starts once this many more recent arrivals were close than not. */
const CLOSE_ARRIVALS_TO_LINGER = 2
const DEADLOCK_ATTEMPTS = 3

interface Waiting {
  message: PendingMessage
  bytes: number
  resolve: (outcome: SendOutcome) => void
  reject: (err: unknown) => void
}

export interface Lane {
  queue: Waiting[]
  busy: boolean
  /** A drain is already scheduled (for the end of this turn of the event loop, or after a linger). */
  scheduled: boolean
  /** When the lane's last send arrived (performance.now()). */
  lastArrivalAt: number
  /** How often sends have come within LINGER_MS of each other lately (see lingerPays). */
  closeArrivals: number
}

/** What the batcher's functions work with, built once by createSendBatcher (send-batcher.ts). */
export interface BatcherState {
  /** The multi-statement pool, one connection per lane. */
  pool: Pool
  /** Hears the size of every committed transaction (the metrics). */
  onCommitted: (messages: number) => void
  lanes: Lane[]
}

export function createLanes (): Lane[] {
  return Array.from({ length: SEND_LANES }, () => ({ queue: [], busy: false, scheduled: false, lastArrivalAt: -Infinity, closeArrivals: 0 }))
}

/** Queues a send on its group's lane; resolves once it is committed, found to be a retry or refused. */
export async function enqueue (state: BatcherState, message: PendingMessage): Promise<SendOutcome> {
  const { row, tokens } = message
  const bytes = row.content.length + (row.metadata?.length ?? 0) + tokens.length * 48
  // UUIDv7 ends in random bits: the last byte spreads groups evenly over the lanes.
  const lane = state.lanes[(row.group_id[15] ?? 0) % SEND_LANES] as Lane
  return await new Promise<SendOutcome>((resolve, reject) => {
    arrived(lane)
    lane.queue.push({ message, bytes, resolve, reject })
    drainSoon(state, lane, true)
  })
}

async function storeAlone (state: BatcherState, waiting: Waiting): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      waiting.resolve((await store(state, [waiting.message]))[0] as SendOutcome)
      return
    } catch (err) {
      if (!isDeadlock(err) || attempt >= DEADLOCK_ATTEMPTS) {
        waiting.reject(err)
        return
      }
    }
  }
}

async function flush (state: BatcherState, batch: Waiting[]): Promise<void> {
  if (batch.length === 1) {
    await storeAlone(state, batch[0] as Waiting)
    return
  }
  let settled: SendOutcome[]
  try {
    settled = await store(state, batch.map((w) => w.message))
  } catch {
    // One at a time, in queue order: retried side by side they would take seqs in whatever
    // order their transactions got the group's lock, and a connection's pipelined sends
    // must keep the order they were sent in.
    for (const waiting of batch) await storeAlone(state, waiting)
    return
  }
  batch.forEach((waiting, i) => { waiting.resolve(settled[i] as SendOutcome) })
}

/** Notes a send's arrival: whether it came within LINGER_MS of the lane's previous one. */
function arrived (lane: Lane): void {
  const now = performance.now()
  const close = now - lane.lastArrivalAt <= LINGER_MS
  lane.closeArrivals = close ? Math.min(CLOSE_ARRIVALS_MAX, lane.closeArrivals + 1) : Math.max(0, lane.closeArrivals - 1)
  lane.lastArrivalAt = now
}

/**
 * Holding an idle lane's first send pays when more are likely to follow within LINGER_MS:
 * most recent sends came that close to the one before them (bursts, or a high rate).
 */
function lingerPays (lane: Lane): boolean {
  return lane.closeArrivals >= CLOSE_ARRIVALS_TO_LINGER
}

/**
 * Starts the lane's next transaction once the current turn of the event loop is over: the
 * requests that arrived in one read (their Redis replies come back pipelined, so they resume
 * together) then share it instead of the first one leaving alone. A send arriving at an idle
 * lane while sends come close together waits up to LINGER_MS for company; sends that queued
 * behind a busy lane have waited already and go as soon as it is free.
 */
function drainSoon (state: BatcherState, lane: Lane, onArrival = false): void {
  if (lane.busy || lane.scheduled || lane.queue.length === 0) return
  lane.scheduled = true
  const run = (): void => {
    lane.scheduled = false
    drain(state, lane)
  }
  if (onArrival && lingerPays(lane)) setTimeout(run, LINGER_MS)
  else setImmediate(run)
}

function drain (state: BatcherState, lane: Lane): void {
  if (lane.busy || lane.queue.length === 0) return
  const batch: Waiting[] = []
  let bytes = 0
  while (lane.queue.length > 0 && batch.length < MAX_BATCH_MESSAGES) {
    const next = lane.queue[0] as Waiting
    if (batch.length > 0 && bytes + next.bytes > MAX_BATCH_BYTES) break
    batch.push(lane.queue.shift() as Waiting)
    bytes += next.bytes
  }
  lane.busy = true
  void flush(state, batch).finally(() => {
    lane.busy = false
    drainSoon(state, lane)
  })
}
