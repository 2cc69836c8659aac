/** How often delivered watermarks are written: a burst of messages costs one UPDATE per reader. */
export const DELIVERY_FLUSH_MS = 250
/** Watermark writes in flight at once, so a flush never takes the whole database pool. */
const FLUSH_CONCURRENCY = 4

export type MarkDelivered = (userId: number, groupId: string, seq: number) => Promise<void>

/**
 * Batches delivered watermarks (DESIGN §6): each chat:message a connection is sent raises its
 * user's watermark for the group; only the highest seq per (user, group) is written, at most
 * every DELIVERY_FLUSH_MS.
 */
export class DeliveryTracker {
  private readonly markDelivered: MarkDelivered
  private readonly onError: (err: unknown) => void
  private pending = new Map<string, { userId: number, groupId: string, seq: number }>()
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> = Promise.resolve()

  constructor (markDelivered: MarkDelivered, onError: (err: unknown) => void) {
    this.markDelivered = markDelivered
    this.onError = onError
  }

  /** The user was sent the group's message `seq`. */
  record (userId: number, groupId: string, seq: number): void {
    const key = `${userId}|${groupId}`
    const current = this.pending.get(key)
    if (current !== undefined && current.seq >= seq) return
    this.pending.set(key, { userId, groupId, seq })
    if (this.timer === null) {
      this.timer = setTimeout(() => { void this.flush() }, DELIVERY_FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Writes every pending watermark now. */
  async flush (): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const batch = [...this.pending.values()]
    this.pending = new Map()
    const previous = this.flushing
    this.flushing = (async () => {
      await previous
      for (let i = 0; i < batch.length; i += FLUSH_CONCURRENCY) {
        const results = await Promise.allSettled(batch.slice(i, i + FLUSH_CONCURRENCY)
          .map(async ({ userId, groupId, seq }) => { await this.markDelivered(userId, groupId, seq) }))
        for (const result of results) if (result.status === 'rejected') this.onError(result.reason)
      }
    })()
    await this.flushing
  }
}
