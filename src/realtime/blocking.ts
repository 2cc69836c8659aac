import type { ServerEvent } from '../../schemas/events.ts'

/*
 * Blocking in realtime (issue 11 point 9): a user's sockets never receive the messages (and
 * their edits), mentions, typing or presence of users they blocked, in any group; the other members' sockets
 * get everything as before. The check runs per receiver at delivery, on the sender id, before
 * the already-serialized frame is written: one Set lookup, and nothing at all for the many
 * connections whose user blocked no one, so a frame is still serialized once for everyone.
 */

/** The user an event shows acting (the sender, the typist, whose presence); null for the rest. */
export function actorOf (event: ServerEvent): number | null {
  switch (event.type) {
    case 'chat:message': return event.payload.senderUserId
    case 'chat:message_edited': return event.payload.senderUserId ?? null
    case 'chat:mention': return event.payload.message.senderUserId
    case 'chat:typing':
    case 'chat:presence': return event.payload.userId
    default: return null
  }
}

/** True when the event shows a user the receiver blocked, so it is not sent to them. */
export function hiddenByBlock (blocked: BlockedSenders, event: ServerEvent): boolean {
  if (blocked.size === 0) return false
  const actor = actorOf(event)
  return actor !== null && blocked.has(actor)
}

/**
 * The users one connection's user blocked: loaded when the connection is admitted, then kept
 * current by `blocks_changed` notices from every instance. A notice that arrives while the
 * list is being read is applied again on top of what was read, so neither order loses it.
 */
export class BlockedSenders {
  private ids = new Set<number>()
  private changedDuringLoad: Array<[userId: number, blocked: boolean]> | null = null

  get size (): number {
    return this.ids.size
  }

  has (userId: number): boolean {
    return this.ids.has(userId)
  }

  /** The list is about to be read from the database. */
  beginLoad (): void {
    this.changedDuringLoad = []
  }

  /** The list as read; changes heard meanwhile are applied on top. */
  finishLoad (blockedIds: readonly number[]): void {
    this.ids = new Set(blockedIds)
    for (const [userId, blocked] of this.changedDuringLoad ?? []) this.apply(userId, blocked)
    this.changedDuringLoad = null
  }

  /** The user blocked (or unblocked) `userId`. */
  change (userId: number, blocked: boolean): void {
    this.apply(userId, blocked)
    this.changedDuringLoad?.push([userId, blocked])
  }

  private apply (userId: number, blocked: boolean): void {
    if (blocked) this.ids.add(userId)
    else this.ids.delete(userId)
  }
}
