import type { Pool } from 'mysql2/promise'
import { createLanes, enqueue, type BatcherState } from './send-lanes.ts'
import type { SendRow } from './send-transaction.ts'

export { LINGER_MS, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, SEND_LANES } from './send-lanes.ts'

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
 *
 * Its jobs: send-lanes.ts (lanes, scheduling and linger, outcomes and retries),
 * send-batch-commit.ts (one batch's transaction), send-settle.ts (what phase 1's reads make of
 * each message), send-transaction.ts (the statements).
 */
export function createSendBatcher (pool: Pool, onCommitted: (messages: number) => void = () => {}): SendBatcher {
  const state: BatcherState = { pool, onCommitted, lanes: createLanes() }
  return {
    pool,
    commit: (message) => enqueue(state, message)
  }
}
