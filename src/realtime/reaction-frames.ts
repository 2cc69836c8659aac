import type { ReactionsUpdatedEvent } from '../../schemas/events.ts'
import { outboundFrame, type OutboundFrame } from './outbound.ts'

/*
 * chat:reactions_updated carries `hasReacted`, which is relative to whoever receives it, yet a
 * group event must not be serialized per subscriber (issue 16.1). What each receiver is shown
 * is the chat area's rule (ReactionViews, modules/chat/reaction-view.ts): only the event's
 * reactors see something else than everyone else. So everyone else shares one frame, and each
 * reactor gets a frame of their own, made once per event. The serializations per event are
 * 1 + the reactors who receive it, never the group's size; clients see exactly what a
 * per-receiver frame would show.
 */

/** The chat area's per-receiver view of a reactions event (a gateway port). */
export interface ReactionViews {
  /** The event as `userId` is shown it (undefined: anyone who is not among the reactors). */
  seenBy: (event: ReactionsUpdatedEvent, userId: number | undefined) => ReactionsUpdatedEvent
  /** The users shown something else than `seenBy(event, undefined)`. */
  reactorsOf: (event: ReactionsUpdatedEvent) => ReadonlySet<number>
}

interface ReactionFrames {
  reactors: ReadonlySet<number>
  shared: OutboundFrame
  personal: Map<number, OutboundFrame>
}

const framesOf = new WeakMap<ReactionsUpdatedEvent, ReactionFrames>()

/** The frame of a reactions event for one receiver (undefined: not signed in). */
export function reactionFrameFor (views: ReactionViews, event: ReactionsUpdatedEvent, userId: number | undefined): OutboundFrame {
  let frames = framesOf.get(event)
  if (frames === undefined) {
    frames = { reactors: views.reactorsOf(event), shared: outboundFrame(views.seenBy(event, undefined)), personal: new Map() }
    framesOf.set(event, frames)
  }
  if (userId === undefined || !frames.reactors.has(userId)) return frames.shared
  let personal = frames.personal.get(userId)
  if (personal === undefined) {
    personal = outboundFrame(views.seenBy(event, userId))
    frames.personal.set(userId, personal)
  }
  return personal
}
