import type { ChatMessageEvent, ServerEvent } from '../../schemas/events.ts'

/*
 * Cleared history in realtime (issue 11 point 2): a reply quoting a message the receiver
 * cleared reaches their sockets without `metadata.replyPreview`, as history and replay show it;
 * the other members get the preview. Like blocking (blocking.ts), the check runs per receiver
 * at delivery on an already-serialized event: the shared frame stays the one for everyone, and
 * the receivers whose clear covers the quoted message share one variant frame, built on first
 * use. A connection whose user cleared nothing in its groups costs one `size` check.
 *
 * The quoted message's seq is not in the public event: the send path publishes it beside the
 * event (PublishOptions.parentSeq), across instances in the bus envelope.
 */

/**
 * The clear watermarks of one connection's user, per group: read when a group subscription
 * opens, raised by the user's own `chat:messages_cleared` events (which reach all their
 * connections on every instance). A watermark only ever rises, so the read and an event heard
 * meanwhile combine by taking the higher, in either order. Groups never cleared hold no entry.
 */
export class ClearedHistory {
  private readonly seqs = new Map<string, number>()

  get size (): number {
    return this.seqs.size
  }

  /** The user's history of the group is cleared up to (and including) `upToSeq`. */
  raise (groupId: string, upToSeq: number): void {
    if (upToSeq <= 0) return
    const current = this.seqs.get(groupId)
    if (current === undefined || current < upToSeq) this.seqs.set(groupId, upToSeq)
  }

  /** The subscription ended (left, evicted): a later one reads the watermark again. */
  forget (groupId: string): void {
    this.seqs.delete(groupId)
  }

  /** The user's clear watermark of the group; 0 when never cleared. */
  seqOf (groupId: string): number {
    return this.seqs.get(groupId) ?? 0
  }

  /** True when the message of seq `seq` in the group is cleared for the user. */
  covers (groupId: string, seq: number): boolean {
    if (this.seqs.size === 0) return false
    const cleared = this.seqs.get(groupId)
    return cleared !== undefined && seq <= cleared
  }
}

const variants = new WeakMap<ChatMessageEvent, ChatMessageEvent>()

/** The event without its reply preview: one copy per event, whoever it goes to. */
export function withoutReplyPreview (event: ChatMessageEvent): ChatMessageEvent {
  let variant = variants.get(event)
  if (variant === undefined) {
    const { replyPreview: _cleared, ...metadata } = event.payload.metadata
    variant = { ...event, payload: { ...event.payload, metadata } }
    variants.set(event, variant)
  }
  return variant
}

/**
 * What a receiver is sent of a group event: the event itself, or, for a reply whose quoted
 * message (of seq `parentSeq`) the receiver cleared, the event without its reply preview.
 */
export function shownAfterClear (cleared: ClearedHistory, groupId: string, event: ServerEvent, parentSeq: number | undefined): ServerEvent {
  if (parentSeq === undefined || event.type !== 'chat:message' || !cleared.covers(groupId, parentSeq)) return event
  if (event.payload.metadata.replyPreview === undefined) return event
  return withoutReplyPreview(event)
}
