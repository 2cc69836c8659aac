import type { ReactionsUpdatedEvent } from '../../../schemas/events.ts'

/*
 * `hasReacted` in chat:reactions_updated is relative to whoever receives it: true on the
 * reactions whose `users` list the receiver. Only the users listed somewhere (the event's
 * reactors) ever see a true; everyone else is shown what a receiver who never reacted is shown.
 * The gateway uses this to send one shared frame plus one per reactor (realtime/reaction-frames.ts).
 */

/** The event as `userId` is shown it (undefined: a receiver who is nobody in particular). */
export function reactionsSeenBy (event: ReactionsUpdatedEvent, userId: number | undefined): ReactionsUpdatedEvent {
  const reactions = event.payload.reactions.map((r) => ({ ...r, hasReacted: userId !== undefined && (r.users ?? []).includes(userId) }))
  return { type: event.type, payload: { ...event.payload, reactions } }
}

/** The users shown something else than `reactionsSeenBy(event, undefined)`. */
export function reactorsOf (event: ReactionsUpdatedEvent): Set<number> {
  const reactors = new Set<number>()
  for (const reaction of event.payload.reactions) for (const id of reaction.users ?? []) reactors.add(id)
  return reactors
}
