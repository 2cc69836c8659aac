import type { ServerEvent } from '../../schemas/events.ts'

/**
 * Live events buffered per subscription while a replay or a gap fill runs. Past this the
 * subscriber is told to resync over REST instead of the server holding more.
 */
export const MAX_PENDING_EVENTS = 1000
/** The most missed messages a gap fill reads; a larger gap asks the client to resync. */
export const MAX_GAP_FILL = 1000

/** The group seq of a chat:message event; null for every other event. */
export function seqOf (event: ServerEvent): number | null {
  if (event.type !== 'chat:message') return null
  return event.payload.seq
}

export interface SubscriptionSink {
  /** Sends one event to the connection. */
  deliver: (event: ServerEvent) => void
  /** The chat:message events with seq in (afterSeq, uptoSeq], ascending. */
  fetchBetween: (afterSeq: number, uptoSeq: number) => Promise<ServerEvent[]>
  /** The subscriber missed more than can be filled: it must page over REST up to `latestSeq`. */
  resync: (latestSeq: number) => void
  onError: (err: unknown) => void
}

/**
 * One connection's subscription to one group, keeping DESIGN §6's promise of per-group total
 * order with no gap and no duplicate:
 *
 * - it starts buffering before the replay reads the database, so nothing committed meanwhile
 *   is missed, and `start(seq)` releases the buffer, dropping what the replay already sent;
 * - a chat:message at or below the last seq sent is a duplicate and is dropped;
 * - a chat:message past the next seq (another instance's event overtaken by a local one, or
 *   one lost while Redis was away) first has the missing seqs read from the database. Seqs
 *   are assigned under the group row lock, so every seq below a published one is committed.
 *
 * Other events keep their place in the same queue, so an edit never overtakes its message.
 */
export class GroupSubscription {
  readonly groupId: string
  private readonly sink: SubscriptionSink
  private lastSeq = 0
  private busy = true
  private pending: ServerEvent[] = []
  /** The highest seq seen while the buffer was full; those events were dropped. */
  private overflowSeq: number | null = null
  private closed = false

  constructor (groupId: string, sink: SubscriptionSink) {
    this.groupId = groupId
    this.sink = sink
  }

  /** The seq of the last chat:message sent to the subscriber. */
  get deliveredSeq (): number {
    return this.lastSeq
  }

  /** A live event from the bus. */
  push (event: ServerEvent): void {
    if (this.closed) return
    if (!this.busy) {
      this.process(event)
      return
    }
    if (this.pending.length < MAX_PENDING_EVENTS) {
      this.pending.push(event)
      return
    }
    const seq = seqOf(event)
    if (seq !== null) this.overflowSeq = Math.max(this.overflowSeq ?? 0, seq)
  }

  /** Sends a replayed event (in seq order) before live ones. */
  replay (event: ServerEvent): void {
    if (this.closed) return
    const seq = seqOf(event)
    if (seq !== null) {
      if (seq <= this.lastSeq) return
      this.lastSeq = seq
    }
    this.sink.deliver(event)
  }

  /** The replay is done: live events flow from the seq after `seq`. */
  start (seq: number): void {
    this.lastSeq = Math.max(this.lastSeq, seq)
    this.busy = false
    this.drain()
  }

  /** Stops delivery; buffered events are dropped. */
  close (): void {
    this.closed = true
    this.pending = []
  }

  get isClosed (): boolean {
    return this.closed
  }

  private drain (): void {
    while (!this.busy && !this.closed) {
      const next = this.pending.shift()
      if (next === undefined) break
      this.process(next)
    }
    if (!this.busy && !this.closed && this.overflowSeq !== null) {
      const latestSeq = Math.max(this.overflowSeq, this.lastSeq)
      this.overflowSeq = null
      this.lastSeq = latestSeq
      this.sink.resync(latestSeq)
    }
  }

  private process (event: ServerEvent): void {
    const seq = seqOf(event)
    if (seq === null) {
      this.sink.deliver(event)
      return
    }
    if (seq <= this.lastSeq) return
    if (seq === this.lastSeq + 1) {
      this.lastSeq = seq
      this.sink.deliver(event)
      return
    }
    this.fillGap(seq - 1, event)
  }

  private fillGap (uptoSeq: number, then: ServerEvent): void {
    if (uptoSeq - this.lastSeq > MAX_GAP_FILL) {
      this.lastSeq = uptoSeq
      this.sink.resync(uptoSeq)
      this.process(then)
      return
    }
    this.busy = true
    this.pending.unshift(then)
    const afterSeq = this.lastSeq
    this.sink.fetchBetween(afterSeq, uptoSeq).then((events) => {
      for (const event of events) this.replay(event)
    }, (err: unknown) => {
      // The database could not say what was missed: the client must page over REST.
      this.sink.onError(err)
      if (!this.closed) this.sink.resync(uptoSeq)
    }).finally(() => {
      // A seq the database did not return does not exist for this reader: never ask again.
      this.lastSeq = Math.max(this.lastSeq, uptoSeq)
      this.busy = false
      this.drain()
    }).catch(this.sink.onError)
  }
}
