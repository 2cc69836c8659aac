import type { Pool } from 'mysql2/promise'
import { hasRole } from '../membership/guard.ts'
import { isDeadlock } from '../../../db/errors.ts'
import {
  insertAndCommit, lockGroups, memberKey, retryKey, rollback, type SenderRetries, type SendLocks, type SendRow, type StoredSend
} from './send-transaction.ts'

/** A sealed, validated message waiting for its seq and its commit. */
export interface PendingMessage {
  /** The row without its seq, which the commit assigns. */
  row: SendRow
  tokens: Buffer[]
  mentions: Array<{ mentionedUserId: number, type: 'user' | 'everyone' }>
  threadRootBin: Buffer | null
  /** It mentions someone or replies: a notification job is committed with it. */
  notifies?: boolean
  /** Why the sender may not post unless they are an admin or the owner (a broadcast group, a system message); null when any member may. */
  adminOnly: string | null
  /** Uploads to attach (distinct): the sender's, in the same group, not attached to any message yet. */
  attachmentBins?: Buffer[]
}

/**
 * Why the transaction's reads, under the group lock, forbid storing a message. The batcher
 * only says why; the chat service words the error (send.ts).
 */
export type SendRefusal =
  | { reason: 'no-group' }
  | { reason: 'not-member' }
  | { reason: 'admin-only', why: string }
  /** Uploads the message may not carry: unknown, another group's or uploader's, or attached already. */
  | { reason: 'attachments', attachmentBins: Buffer[] }

/**
 * How a send ended: stored and committed with its seq, a retry of a clientMessageId its
 * sender already stored in the group (answered by that original message), or refused.
 */
export type SendOutcome =
  | { stored: true, seq: number }
  | { stored: false, originalId: Buffer }
  | { stored: false, refused: SendRefusal }

export interface SendBatcher {
  /** Resolves once the message is committed, found to be a retry or refused; rejects if the transaction failed. */
  commit: (message: PendingMessage) => Promise<SendOutcome>
  /** The batcher's multi-statement pool, one connection per lane: for its usage figures and the sql_mode check. */
  readonly pool: Pool
}

interface Waiting {
  message: PendingMessage
  bytes: number
  resolve: (outcome: SendOutcome) => void
  reject: (err: unknown) => void
}

interface Lane {
  queue: Waiting[]
  busy: boolean
  /** A drain is already scheduled (for the end of this turn of the event loop, or after a linger). */
  scheduled: boolean
  /** When the lane's last send arrived (performance.now()). */
  lastArrivalAt: number
  /** How often sends have come within LINGER_MS of each other lately (see lingerPays). */
  closeArrivals: number
}

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
const DEADLOCK_ATTEMPTS = 3
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

/** Why phase 1's reads forbid storing a message, or null when it may be stored. */
function refusalOf (message: PendingMessage, locks: SendLocks): SendRefusal | null {
  const { row, adminOnly } = message
  if (!locks.tops.has(row.group_id.toString('hex'))) return { reason: 'no-group' }
  const role = locks.roles.get(memberKey(row.group_id, row.sender_user_id))
  if (role === undefined) return { reason: 'not-member' }
  if (adminOnly !== null && !hasRole(role, 'admin')) return { reason: 'admin-only', why: adminOnly }
  return null
}

/**
 * The uploads a message may not carry: unknown, of another group or uploader, attached to a
 * message already, or claimed by a message earlier in the batch. Records the others as claimed.
 */
function unclaimable (message: PendingMessage, locks: SendLocks, taken: Set<string>): Buffer[] {
  const { row } = message
  const attachmentBins = message.attachmentBins ?? []
  const refused = attachmentBins.filter((bin) => {
    const key = bin.toString('hex')
    const found = locks.attachments.get(key)
    return found === undefined || taken.has(key) || found.messageBin !== null ||
      !found.groupBin.equals(row.group_id) || found.uploaderId !== row.sender_user_id
  })
  if (refused.length === 0) for (const bin of attachmentBins) taken.add(bin.toString('hex'))
  return refused
}

/**
 * What phase 1's reads make of each message: refused, a retry answered by its original (a
 * message stored before, or one earlier in this batch), or null when it is to be stored.
 * A retry is answered before its attachments are looked at: its original carries them.
 */
function settle (batch: PendingMessage[], locks: SendLocks): Array<SendOutcome | null> {
  const claimed = new Map(locks.originals)
  const taken = new Set<string>()
  return batch.map((message) => {
    const refused = refusalOf(message, locks)
    if (refused !== null) return { stored: false, refused }
    const { row } = message
    if (row.client_message_id !== null) {
      const key = retryKey(row.group_id, row.sender_user_id, row.client_message_id)
      const originalId = claimed.get(key)
      if (originalId !== undefined) return { stored: false, originalId }
      const unattachable = unclaimable(message, locks, taken)
      if (unattachable.length > 0) return { stored: false, refused: { reason: 'attachments', attachmentBins: unattachable } }
      claimed.set(key, row.id)
      return null
    }
    const unattachable = unclaimable(message, locks, taken)
    return unattachable.length > 0 ? { stored: false, refused: { reason: 'attachments', attachmentBins: unattachable } } : null
  })
}

/**
 * Group commit for sends. A send is still one short transaction that assigns
 * `seq = last_seq + 1` under the group row's lock and commits before anything is acknowledged;
 * under load, one transaction carries every send that queued meanwhile: one counter update
 * per group, one multi-row insert of messages, one of search tokens, one fsync, in two round
 * trips (send-transaction.ts). Throughput then follows the disk's commit rate times the batch
 * size instead of the commit rate alone.
 *
 * The sender's membership is read again inside the transaction, under the group lock, so a
 * member removed a moment ago cannot post whatever the guard's cache says; so are the messages
 * already stored under the batch's clientMessageIds. A message that must not be stored (no
 * group any more, no membership, no right to post) is refused alone, and a retry of a stored
 * clientMessageId (or of one earlier in the same batch) is answered with the original message:
 * either is left out of the insert and its seq given back in the same commit, so the other
 * senders' messages commit with gap-free seqs in the same two round trips. A batch that fails
 * at insert all the same (a deadlock, anything unexpected) is rolled back whole and every
 * message in it is retried in a transaction of its own, so the caller sees exactly what a lone
 * send would have met.
 *
 * `pool` must allow multiple statements (send-transaction.ts writes every value into them as
 * a literal, safe in the pinned sql_mode). `onCommitted` hears the size of every committed
 * transaction (the metrics).
 */
export function createSendBatcher (pool: Pool, onCommitted: (messages: number) => void = () => {}): SendBatcher {
  const lanes: Lane[] = Array.from({ length: SEND_LANES }, () => ({ queue: [], busy: false, scheduled: false, lastArrivalAt: -Infinity, closeArrivals: 0 }))

  async function store (batch: PendingMessage[]): Promise<SendOutcome[]> {
    const counts = new Map<string, { groupBin: Buffer, count: number }>()
    const senders = new Map<string, { groupBin: Buffer, userId: number }>()
    const retries = new Map<string, SenderRetries>()
    const attachmentBins: Buffer[] = []
    let activityAt = new Date(0)
    for (const { row, attachmentBins: bins } of batch) {
      if (bins !== undefined) attachmentBins.push(...bins)
      const key = row.group_id.toString('hex')
      const entry = counts.get(key) ?? { groupBin: row.group_id, count: 0 }
      entry.count += 1
      counts.set(key, entry)
      const member = memberKey(row.group_id, row.sender_user_id)
      senders.set(member, { groupBin: row.group_id, userId: row.sender_user_id })
      if (row.client_message_id !== null) {
        const sender = retries.get(member) ?? { groupBin: row.group_id, userId: row.sender_user_id, clientMessageIds: [] }
        sender.clientMessageIds.push(row.client_message_id)
        retries.set(member, sender)
      }
      if (row.created_at > activityAt) activityAt = row.created_at
    }

    const connection = await pool.getConnection()
    let reusable = true
    try {
      const locks = await lockGroups(connection, counts, [...senders.values()], [...retries.values()], activityAt, attachmentBins)
      const settled = settle(batch, locks)
      const fresh = batch.flatMap((message, i) => settled[i] === null ? [{ message, i }] : [])
      if (fresh.length === 0) {
        reusable = await rollback(connection)
        return settled as SendOutcome[]
      }
      // Within a group, seqs follow the batch's order, which is arrival order; the seqs of
      // messages left out are given back, so the stored ones stay gap-free.
      const next = new Map([...counts].map(([key, { count }]) => [key, (locks.tops.get(key) ?? 0) - count + 1]))
      const stored: StoredSend[] = fresh.map(({ message, i }) => {
        const key = message.row.group_id.toString('hex')
        const seq = next.get(key) ?? 0
        next.set(key, seq + 1)
        settled[i] = { stored: true, seq }
        return { ...message, seq }
      })
      const givenBack = [...counts].flatMap(([key, { groupBin }]) => {
        const top = locks.tops.get(key)
        const unused = top === undefined ? 0 : top + 1 - (next.get(key) ?? 0)
        return unused > 0 ? [{ groupBin, count: unused }] : []
      })
      await insertAndCommit(connection, stored, givenBack)
      onCommitted(stored.length)
      return settled as SendOutcome[]
    } catch (err) {
      reusable = await rollback(connection)
      throw err
    } finally {
      if (reusable) connection.release()
      else connection.destroy()
    }
  }

  function settleOne (waiting: Waiting, settled: SendOutcome): void {
    waiting.resolve(settled)
  }

  async function storeAlone (waiting: Waiting): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        settleOne(waiting, (await store([waiting.message]))[0] as SendOutcome)
        return
      } catch (err) {
        if (!isDeadlock(err) || attempt >= DEADLOCK_ATTEMPTS) {
          waiting.reject(err)
          return
        }
      }
    }
  }

  async function flush (batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      await storeAlone(batch[0] as Waiting)
      return
    }
    let settled: SendOutcome[]
    try {
      settled = await store(batch.map((w) => w.message))
    } catch {
      // One at a time, in queue order: retried side by side they would take seqs in whatever
      // order their transactions got the group's lock, and a connection's pipelined sends
      // must keep the order they were sent in.
      for (const waiting of batch) await storeAlone(waiting)
      return
    }
    batch.forEach((waiting, i) => { settleOne(waiting, settled[i] as SendOutcome) })
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
  function drainSoon (lane: Lane, onArrival = false): void {
    if (lane.busy || lane.scheduled || lane.queue.length === 0) return
    lane.scheduled = true
    const run = (): void => {
      lane.scheduled = false
      drain(lane)
    }
    if (onArrival && lingerPays(lane)) setTimeout(run, LINGER_MS)
    else setImmediate(run)
  }

  function drain (lane: Lane): void {
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
    void flush(batch).finally(() => {
      lane.busy = false
      drainSoon(lane)
    })
  }

  return {
    pool,
    async commit (message) {
      const { row, tokens } = message
      const bytes = row.content.length + (row.metadata?.length ?? 0) + tokens.length * 48
      // UUIDv7 ends in random bits: the last byte spreads groups evenly over the lanes.
      const lane = lanes[(row.group_id[15] ?? 0) % SEND_LANES] as Lane
      return await new Promise<SendOutcome>((resolve, reject) => {
        arrived(lane)
        lane.queue.push({ message, bytes, resolve, reject })
        drainSoon(lane, true)
      })
    }
  }
}
