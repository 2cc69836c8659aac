import type { PendingMessage, SendOutcome } from './send-batcher.ts'
import type { BatcherState } from './send-lanes.ts'
import { settle } from './send-settle.ts'
import { insertAndCommit, lockGroups, memberKey, rollback, type SenderRetries, type StoredSend } from './send-transaction.ts'

/**
 * One batch's transaction: lock its groups and read what phase 1 needs (send-transaction.ts),
 * settle each message (send-settle.ts), give the seqs of the messages left out back, insert the
 * rest and commit. The connection is destroyed when a rollback could not be confirmed.
 */
export async function store (state: BatcherState, batch: PendingMessage[]): Promise<SendOutcome[]> {
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

  const connection = await state.pool.getConnection()
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
    state.onCommitted(stored.length)
    return settled as SendOutcome[]
  } catch (err) {
    reusable = await rollback(connection)
    throw err
  } finally {
    if (reusable) connection.release()
    else connection.destroy()
  }
}
