import type { ChatMessage, MessageMetadata } from '../../../schemas/chat.ts'
import type { ChatDeps } from './deps.ts'
import { withoutReplyPreview } from './message-mapper.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Mentions of a sent message: who is mentioned (resolved before the send's transaction), and
 * the chat:mention each of them is told after the commit.
 */

const NONE_CLEARED: ReadonlySet<number> = new Set()
/** Mentioned users whose clear watermarks are looked up by key; more read the group's member rows. */
const MAX_NAMED_LOOKUPS = 500

/**
 * Whether a message may notify anyone: it mentions someone other than its sender, @everyone,
 * or replies to someone else's message. Decided from the message alone: who is notified is the
 * notification worker's job, after the commit.
 */
export function notifiesAnyone (senderId: number, metadata: MessageMetadata, parentSenderId: number | null): boolean {
  if (parentSenderId !== null && parentSenderId !== senderId) return true
  return (metadata.mentions ?? []).some((m) => m.type === 'everyone' || (m.type === 'user' && m.userId !== senderId))
}

/** Members to notify of a message's mentions: mentioned members other than the sender; @everyone is every other member. */
export async function resolveMentions (deps: ChatDeps, caller: Caller, metadata: MessageMetadata): Promise<Map<number, 'user' | 'everyone'>> {
  const mentioned = new Map<number, 'user' | 'everyone'>()
  const mentions = metadata.mentions ?? []
  if (mentions.length === 0) return mentioned
  const groupBin = caller.membership.groupIdBin
  const named = [...new Set(mentions.filter((m) => m.type === 'user').map((m) => m.userId))].filter((id) => id !== caller.user.id)
  const everyone = mentions.some((m) => m.type === 'everyone')
  const [members, all] = await Promise.all([
    deps.repo.membersAmong(groupBin, named),
    everyone ? deps.repo.memberIds(groupBin) : Promise.resolve([])
  ])
  for (const id of all) if (id !== caller.user.id) mentioned.set(id, 'everyone')
  for (const id of members) mentioned.set(id, 'user')
  return mentioned
}

/**
 * chat:mention to each mentioned user. A reply whose quoted message (of seq `quotedSeq`) a
 * mentioned user cleared reaches them without its preview: a mention goes to all of a user's
 * sockets, subscribed to the group or not, so their watermark is read here (only for a reply
 * with a preview), not at the gateway.
 */
export async function publishMentions (deps: ChatDeps, groupBin: Buffer, groupId: string, message: ChatMessage, mentioned: Map<number, 'user' | 'everyone'>, quotedSeq: number | undefined): Promise<void> {
  let cleared: ReadonlySet<number> = NONE_CLEARED
  if (quotedSeq !== undefined) {
    // Named users are looked up by key; an @everyone mention reads the group's members once.
    const named = mentioned.size <= MAX_NAMED_LOOKUPS ? [...mentioned.keys()] : undefined
    cleared = await deps.repo.clearedPast(groupBin, quotedSeq, named).catch((err: unknown) => {
      // The message is committed and must be announced: with no watermarks to go by, no
      // mention shows the preview rather than one showing a cleared message.
      deps.log.warn({ err }, 'clear watermarks unavailable; mentions sent without the reply preview')
      return new Set(mentioned.keys())
    })
  }
  let withoutPreview: ChatMessage | null = null
  for (const [userId, mentionType] of mentioned) {
    let shown = message
    if (cleared.has(userId)) {
      withoutPreview ??= withoutReplyPreview(message)
      shown = withoutPreview
    }
    deps.bus.publish({ userId }, { type: 'chat:mention', payload: { message: shown, groupId, mentionType } })
  }
}
