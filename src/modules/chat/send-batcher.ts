import type { Kysely } from 'kysely'
import type { Database, NewMessage } from '../../../db/database.ts'
import { notFound } from '../../lib/app-error.ts'
import { isDeadlock, type chatRepository } from './repository.ts'

type ChatRepository = ReturnType<typeof chatRepository>

/** A sealed, validated message waiting for its seq and its commit. */
export interface PendingMessage {
  /** The row without its seq, which the commit assigns. */
  row: Omit<NewMessage, 'seq'>
  tokens: Buffer[]
  mentions: Array<{ mentionedUserId: number, type: 'user' | 'everyone' }>
  threadRootBin: Buffer | null
}

export interface SendBatcher {
  /** Resolves with the message's seq once it is committed; rejects if it was not stored. */
  commit: (message: PendingMessage) => Promise<number>
}

interface Waiting {
  message: PendingMessage
  bytes: number
  resolve: (seq: number) => void
  reject: (err: unknown) => void
}

/**
 * Groups are spread over this many lanes, each with at most one transaction in flight. A group
 * always uses the same lane, so concurrent transactions never wait on each other's group row
 * locks; sends that arrive while their lane is busy are gathered into its next transaction.
 */
export const SEND_LANES = 8
export const MAX_BATCH_MESSAGES = 128
/** Sealed content and metadata per batch, far below max_allowed_packet (16 MiB on MariaDB). */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024
const DEADLOCK_ATTEMPTS = 3

/**
 * Group commit for sends. A send is still one short transaction that assigns
 * `seq = last_seq + 1` under the group row's lock and commits before anything is acknowledged;
 * under load, one transaction carries every send that queued meanwhile: one counter update
 * per group, one multi-row insert of messages, one of search tokens, one fsync. Throughput
 * then follows the disk's commit rate times the batch size instead of the commit rate alone.
 *
 * A batch that fails (a duplicate clientMessageId, a deadlock) is rolled back whole and every
 * message in it is retried in a transaction of its own, so one bad send fails alone and the
 * caller sees exactly the error a lone send would have met.
 */
export function createSendBatcher (db: Kysely<Database>, repo: ChatRepository): SendBatcher {
  const lanes = Array.from({ length: SEND_LANES }, () => ({ queue: [] as Waiting[], busy: false }))

  async function store (batch: PendingMessage[]): Promise<Array<number | null>> {
    return await db.transaction().execute(async (trx) => {
      const counts = new Map<string, { groupBin: Buffer, count: number }>()
      for (const { row } of batch) {
        const key = row.group_id.toString('hex')
        const entry = counts.get(key) ?? { groupBin: row.group_id, count: 0 }
        entry.count += 1
        counts.set(key, entry)
      }
      const latest = batch.reduce((at, { row }) => row.created_at instanceof Date && row.created_at > at ? row.created_at : at, new Date(0))
      const tops = await repo.takeSeqs(counts, latest, trx)
      // Within a group, seqs follow the batch's order, which is arrival order.
      const next = new Map([...tops].map(([key, top]) => [key, top - (counts.get(key)?.count ?? 0) + 1]))
      const seqs = batch.map(({ row }) => {
        const key = row.group_id.toString('hex')
        const seq = next.get(key)
        if (seq === undefined) return null
        next.set(key, seq + 1)
        return seq
      })

      const stored = batch.flatMap((message, index) => {
        const seq = seqs[index]
        return seq === null || seq === undefined ? [] : [{ message, seq }]
      })
      await repo.insertMessages(stored.map(({ message, seq }) => ({ ...message.row, seq })), trx)
      await repo.insertTokenRows(stored.flatMap(({ message }) => message.tokens.map((token) => ({
        group_id: message.row.group_id, token, message_id: message.row.id
      }))), trx)
      await repo.insertMentions(stored.flatMap(({ message }) => message.mentions.map((m) => ({
        message_id: message.row.id, mentioned_user_id: m.mentionedUserId, group_id: message.row.group_id, mention_type: m.type
      }))), trx)
      const replies = new Map<string, { groupBin: Buffer, rootBin: Buffer, count: number }>()
      for (const { message } of stored) {
        if (message.threadRootBin === null) continue
        const key = message.threadRootBin.toString('hex')
        const entry = replies.get(key) ?? { groupBin: message.row.group_id, rootBin: message.threadRootBin, count: 0 }
        entry.count += 1
        replies.set(key, entry)
      }
      for (const key of [...replies.keys()].sort()) {
        const { groupBin, rootBin, count } = replies.get(key) as { groupBin: Buffer, rootBin: Buffer, count: number }
        await repo.incrementReplyCount(groupBin, rootBin, trx, count)
      }
      return seqs
    })
  }

  function settle (waiting: Waiting, seq: number | null | undefined): void {
    if (seq === null || seq === undefined) waiting.reject(notFound('Group'))
    else waiting.resolve(seq)
  }

  async function storeAlone (waiting: Waiting): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [seq] = await store([waiting.message])
        settle(waiting, seq)
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
    let seqs: Array<number | null>
    try {
      seqs = await store(batch.map((w) => w.message))
    } catch {
      await Promise.all(batch.map(storeAlone))
      return
    }
    batch.forEach((waiting, i) => { settle(waiting, seqs[i]) })
  }

  function drain (lane: { queue: Waiting[], busy: boolean }): void {
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
      drain(lane)
    })
  }

  return {
    async commit (message) {
      const bytes = message.row.content.length + (message.row.metadata?.length ?? 0)
      // UUIDv7 ends in random bits: the last byte spreads groups evenly over the lanes.
      const lane = lanes[(message.row.group_id[15] ?? 0) % SEND_LANES] as { queue: Waiting[], busy: boolean }
      return await new Promise<number>((resolve, reject) => {
        lane.queue.push({ message, bytes, resolve, reject })
        drain(lane)
      })
    }
  }
}
