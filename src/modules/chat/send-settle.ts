import { hasRole } from '../membership/guard.ts'
import type { PendingMessage, SendOutcome, SendRefusal } from './send-batcher.ts'
import { memberKey, retryKey, type SendLocks } from './send-transaction.ts'

/*
 * What a batch's reads under the group locks (the transaction's phase 1) make of each message:
 * refused, a retry answered by its original, or to be stored. No I/O: send-batch-commit.ts
 * acts on the answer.
 */

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
export function settle (batch: PendingMessage[], locks: SendLocks): Array<SendOutcome | null> {
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
