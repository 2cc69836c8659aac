import type { ChatMessage, GetMessagesRequest, GetMessagesResponse } from '@parley/types'
import { backoffDelay, type BackoffOptions } from './backoff.ts'
import { toParleyError, type ParleyError } from './errors.ts'
import { clearTimer, setTimer, type TimerHandle } from './platform.ts'

/** Where a group's delivery stands: every message up to `seq` was handed to the application. */
export interface GroupPosition {
  seq: number
  /** The id of a message at or below `seq` (the last one delivered), to page on from; null when unknown. */
  messageId: string | null
}

/** The largest page the REST API serves. */
const PAGE_SIZE = 100

export interface DeliveryDeps {
  listMessages: (groupId: string, query: GetMessagesRequest) => Promise<GetMessagesResponse>
  deliver: (message: ChatMessage) => void
  /** Delivery cannot go on (the user lost access to the group). */
  onFatal: (groupId: string, error: ParleyError) => void
  backoff: BackoffOptions
}

const seqOf = (message: ChatMessage): number => message.seq ?? 0

/**
 * One group's stream of messages to the application: each message exactly once, in seq order,
 * across reconnects and restarts.
 *
 * The socket only tells the stream that messages up to some seq exist (a chat:message, a
 * replay, chat:group_joined, chat:resync_required, the ack of an own send); the messages
 * themselves are read over REST, paging forward from the last one delivered. Content is not
 * broadcast on the socket by default (seed 01 §5.5.1), and one path for live messages, replays
 * and resyncs leaves no room for a gap or a duplicate: a message is delivered only when its seq
 * is past the last one delivered, and pages come in seq order.
 */
export class GroupStream {
  readonly groupId: string
  private position: GroupPosition | null
  private target = 0
  private running = false
  private failures = 0
  private retryTimer: TimerHandle | null = null
  private closed = false
  private readonly deps: DeliveryDeps

  /** Without a position the stream starts where the group stands when it is joined (live only). */
  constructor (groupId: string, position: GroupPosition | null, deps: DeliveryDeps) {
    this.groupId = groupId
    this.position = position === null ? null : { ...position }
    this.deps = deps
  }

  /** The last delivered position: persist it and pass it back to `joinGroup` to resume there. */
  get delivered (): GroupPosition | null {
    return this.position === null ? null : { ...this.position }
  }

  /** The seq to join with (`sinceSeq`); undefined before the first join. */
  get sinceSeq (): number | undefined {
    return this.position?.seq
  }

  /** The group was joined and stood at `latestSeq`. */
  joined (latestSeq: number): void {
    this.position ??= { seq: latestSeq, messageId: null }
    this.advance(latestSeq)
  }

  /** Messages up to `seq` exist: fetch and deliver the ones not delivered yet. */
  advance (seq: number): void {
    if (seq > this.target) this.target = seq
    this.pump()
  }

  /** Try again now (after a reconnect) instead of waiting out a retry delay. */
  resume (): void {
    if (this.retryTimer === null) return
    clearTimer(this.retryTimer)
    this.retryTimer = null
    this.failures = 0
    this.pump()
  }

  close (): void {
    this.closed = true
    clearTimer(this.retryTimer)
    this.retryTimer = null
  }

  private pump (): void {
    if (this.running || this.closed || this.retryTimer !== null) return
    if (this.position === null || this.position.seq >= this.target) return
    this.running = true
    void this.catchUp().finally(() => { this.running = false })
  }

  private async catchUp (): Promise<void> {
    try {
      while (!this.closed && this.position !== null && this.position.seq < this.target) {
        // Only seqs known before the read began are known to be committed when it runs.
        const goal = this.target
        if (this.position.messageId === null) await this.findCursor(this.position, goal)
        else await this.pageForward(this.position, this.position.messageId, goal)
        this.failures = 0
      }
    } catch (err) {
      this.failed(toParleyError(err))
    }
  }

  private failed (error: ParleyError): void {
    if (this.closed) return
    if (error.code === 'VALIDATION_ERROR' && this.position !== null && this.position.messageId !== null) {
      // The cursor message is gone (history cleared): find the place again from the newest end.
      this.position.messageId = null
      this.retryIn(0)
      return
    }
    if (!error.retryable) {
      this.close()
      this.deps.onFatal(this.groupId, error)
      return
    }
    this.failures += 1
    this.retryIn(error.retryAfterMs ?? backoffDelay(this.failures - 1, this.deps.backoff))
  }

  private retryIn (ms: number): void {
    this.retryTimer = setTimer(() => {
      this.retryTimer = null
      this.pump()
    }, ms)
  }

  /** Delivers in seq order the messages past the position; the position follows. */
  private deliverAscending (position: GroupPosition, ascending: ChatMessage[]): void {
    for (const message of ascending) {
      if (this.closed) return
      const seq = seqOf(message)
      if (seq <= position.seq) continue
      position.seq = seq
      position.messageId = message.id
      this.deps.deliver(message)
    }
  }

  private async pageForward (position: GroupPosition, after: string, goal: number): Promise<void> {
    const page = await this.deps.listMessages(this.groupId, { after, limit: PAGE_SIZE })
    if (this.closed) return
    this.deliverAscending(position, [...page.messages].reverse())
    const newest = page.messages[0]
    if (newest !== undefined && seqOf(newest) <= position.seq) position.messageId = newest.id
    // Nothing more is visible: seqs up to the goal that were not served do not exist for this reader.
    if (!page.hasMore) position.seq = Math.max(position.seq, goal)
  }

  /**
   * Without a message to page forward from: pages back from the newest message to the newest
   * one at or below the position. Messages above it on the first page are delivered at once;
   * otherwise it becomes the cursor and paging goes forward from there.
   */
  private async findCursor (position: GroupPosition, goal: number): Promise<void> {
    let before: string | undefined
    for (;;) {
      const page = await this.deps.listMessages(this.groupId, before === undefined ? { limit: PAGE_SIZE } : { before, limit: PAGE_SIZE })
      if (this.closed) return
      const boundary = page.messages.findIndex((message) => seqOf(message) <= position.seq)
      if (boundary >= 0) {
        const cursor = page.messages[boundary]
        if (cursor !== undefined) position.messageId = cursor.id
        if (before === undefined) this.deliverAscending(position, page.messages.slice(0, boundary).reverse())
        return
      }
      if (!page.hasMore || page.nextCursor === null || page.nextCursor === undefined) {
        // The oldest page: everything visible is newer than the position.
        this.deliverAscending(position, [...page.messages].reverse())
        if (page.messages.length === 0) position.seq = Math.max(position.seq, goal)
        return
      }
      before = page.nextCursor
    }
  }
}
