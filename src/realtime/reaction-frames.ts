import type { ReactionsUpdatedEvent } from '../../schemas/events.ts'
import { outboundFrame, type OutboundFrame } from './outbound.ts'

/*
 * chat:reactions_updated carries `hasReacted`, which is relative to whoever receives it, yet a
 * group event must not be serialized per subscriber (issue 16.1). Every reaction lists its
 * `users`, so only the users in those lists see a `hasReacted: true` anywhere: everyone else
 * shares one frame with `hasReacted: false` throughout, and each reactor gets a frame of their
 * own, made once per event. The serializations per event are 1 + the reactors who receive it,
 * never the group's size; clients see exactly what a per-receiver frame would show.
 */

interface ReactionFrames {
  reactors: Set<number>
  shared: OutboundFrame
  personal: Map<number, OutboundFrame>
}

const framesOf = new WeakMap<ReactionsUpdatedEvent, ReactionFrames>()

function relativeTo (event: ReactionsUpdatedEvent, userId: number | undefined): ReactionsUpdatedEvent {
  const reactions = event.payload.reactions.map((r) => ({ ...r, hasReacted: userId !== undefined && (r.users ?? []).includes(userId) }))
  return { type: event.type, payload: { ...event.payload, reactions } }
}

/** The frame of a reactions event for one receiver (undefined: not signed in). */
export function reactionFrameFor (event: ReactionsUpdatedEvent, userId: number | undefined): OutboundFrame {
  let frames = framesOf.get(event)
  if (frames === undefined) {
    const reactors = new Set<number>()
    for (const reaction of event.payload.reactions) for (const id of reaction.users ?? []) reactors.add(id)
    frames = { reactors, shared: outboundFrame(relativeTo(event, undefined)), personal: new Map() }
    framesOf.set(event, frames)
  }
  if (userId === undefined || !frames.reactors.has(userId)) return frames.shared
  let personal = frames.personal.get(userId)
  if (personal === undefined) {
    personal = outboundFrame(relativeTo(event, userId))
    frames.personal.set(userId, personal)
  }
  return personal
}
