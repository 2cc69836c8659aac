/** How often delivered watermarks are written: a burst of messages costs one UPDATE per group and seq. */
export const DELIVERY_FLUSH_MS = 250
/** Watermark writes in flight at once, so a flush never takes the whole database pool. */
const FLUSH_CONCURRENCY = 4
/** Users one watermark UPDATE names at most (its IN list). */
const USERS_PER_WRITE = 1000

/** Moves the users' delivered watermarks of the group up to `seq` (never back) in one write. */
export type MarkDelivered = (groupId: string, userIds: readonly number[], seq: number) => Promise<void>

/**
 * Batches delivered watermarks (DESIGN §6): each chat:message a connection is sent raises its
 * user's watermark for the group; only the highest seq per (user, group) is kept, and at most
 * every DELIVERY_FLUSH_MS the users of a group at the same seq (typically all of them: they were
 * sent the same messages) are written by one UPDATE. Recording is two Map lookups and no
 * allocation, as it runs once per delivery.
 */
export class DeliveryTracker {
  private readonly markDelivered: MarkDelivered
  private readonly onError: (err: unknown) => void
  /** groupId → userId → highest seq sent. */
  private pending = new Map<string, Map<number, number>>()
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> = Promise.resolve()

  constructor (markDelivered: MarkDelivered, onError: (err: unknown) => void) {
    this.markDelivered = markDelivered
    this.onError = onError
  }

  /** The user was sent the group's message `seq`. */
  record (userId: number, groupId: string, seq: number): void {
    let users = this.pending.get(groupId)
    if (users === undefined) {
      users = new Map()
      this.pending.set(groupId, users)
    }
    const current = users.get(userId)
    if (current !== undefined && current >= seq) return
    users.set(userId, seq)
    if (this.timer === null) {
      this.timer = setTimeout(() => { void this.flush() }, DELIVERY_FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Writes every pending watermark now. */
  async flush (): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const batch = writesOf(this.pending)
    this.pending = new Map()
    const previous = this.flushing
    this.flushing = (async () => {
      await previous
      for (let i = 0; i < batch.length; i += FLUSH_CONCURRENCY) {
        const results = await Promise.allSettled(batch.slice(i, i + FLUSH_CONCURRENCY)
          .map(async ({ groupId, userIds, seq }) => { await this.markDelivered(groupId, userIds, seq) }))
        for (const result of results) if (result.status === 'rejected') this.onError(result.reason)
      }
    })()
    await this.flushing
  }
}

interface WatermarkWrite { groupId: string, userIds: number[], seq: number }

/** One write per (group, seq), each naming at most USERS_PER_WRITE users. */
function writesOf (pending: Map<string, Map<number, number>>): WatermarkWrite[] {
  const writes: WatermarkWrite[] = []
  for (const [groupId, users] of pending) {
    const bySeq = new Map<number, number[]>()
    for (const [userId, seq] of users) {
      let userIds = bySeq.get(seq)
      if (userIds === undefined || userIds.length >= USERS_PER_WRITE) {
        userIds = []
        bySeq.set(seq, userIds)
        writes.push({ groupId, userIds, seq })
      }
      userIds.push(userId)
    }
  }
  return writes
}
