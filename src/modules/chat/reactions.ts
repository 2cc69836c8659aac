import { CHAT_LIMITS, type ReactionSummary } from '../../../schemas/chat.ts'
import { invalid, notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import { recordJobs } from '../notifications/jobs.ts'
import { groupIdOf, lengthWithin } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { summarizeReactions } from './message-mapper.ts'
import { findVisibleOrThrow } from './present.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Reactions: each user's emoji on a message, answered and announced as the message's summary
 * relative to the caller. A reaction to someone else's message may notify them.
 */

/** At most this many different reactions per user on one message. */
export const MAX_REACTIONS_PER_USER = 20
const EMOJI = /^[^\s\p{Cc}]+$/u

function checkEmoji (emoji: unknown): string {
  if (typeof emoji !== 'string' || !lengthWithin(emoji, 1, CHAT_LIMITS.emojiMaxLength) || !EMOJI.test(emoji)) {
    throw invalid('emoji', `emoji must be 1-${CHAT_LIMITS.emojiMaxLength} characters without spaces`)
  }
  return emoji
}

async function reactionsOfMessage (deps: ChatDeps, messageBin: Buffer, viewerId: number): Promise<Array<Required<ReactionSummary>>> {
  return summarizeReactions(await deps.repo.reactionsOf([messageBin]), viewerId).get(fromBin(messageBin)) ?? []
}

/** Adds the caller's reaction (a no-op when they already have it). */
export async function addReaction (deps: ChatDeps, caller: Caller, messageId: string, emoji: string): Promise<ReactionSummary[]> {
  const groupId = groupIdOf(caller)
  const checked = checkEmoji(emoji)
  const row = await findVisibleOrThrow(deps, caller, messageId)
  if (row.is_deleted) throw notFound('Message')
  const count = await deps.repo.userReactionCount(row.id, caller.user.id)
  let added = false
  if (count < MAX_REACTIONS_PER_USER) {
    const toOthersMessage = row.sender_user_id !== caller.user.id
    added = await deps.db.transaction().execute(async (trx) => {
      const inserted = await deps.repo.addReaction(caller.membership.groupIdBin, row.id, caller.user.id, checked, trx)
      if (inserted && toOthersMessage) {
        await recordJobs(trx, [{ kind: 'reaction', group_id: row.group_id, message_id: row.id, actor_user_id: caller.user.id, target_user_id: row.sender_user_id, emoji: checked }])
      }
      return inserted
    })
    if (added && toOthersMessage) deps.notificationJobs.recorded()
  }
  const reactions = await reactionsOfMessage(deps, row.id, caller.user.id)
  if (!added && count >= MAX_REACTIONS_PER_USER && reactions.find((r) => r.emoji === checked)?.hasReacted !== true) {
    throw invalid('emoji', `A user can add at most ${MAX_REACTIONS_PER_USER} different reactions to a message`)
  }
  if (added) deps.bus.publish({ groupId }, { type: 'chat:reactions_updated', payload: { messageId: fromBin(row.id), groupId, reactions } })
  return reactions
}

/** Removes the caller's reaction (a no-op when they do not have it). */
export async function removeReaction (deps: ChatDeps, caller: Caller, messageId: string, emoji: string): Promise<ReactionSummary[]> {
  const groupId = groupIdOf(caller)
  const checked = checkEmoji(emoji)
  const row = await findVisibleOrThrow(deps, caller, messageId)
  const removed = await deps.repo.removeReaction(row.id, caller.user.id, checked)
  const reactions = await reactionsOfMessage(deps, row.id, caller.user.id)
  if (removed) deps.bus.publish({ groupId }, { type: 'chat:reactions_updated', payload: { messageId: fromBin(row.id), groupId, reactions } })
  return reactions
}

/** A message's reactions, relative to the caller. */
export async function listReactions (deps: ChatDeps, caller: Caller, messageId: string): Promise<ReactionSummary[]> {
  const row = await findVisibleOrThrow(deps, caller, messageId)
  return await reactionsOfMessage(deps, row.id, caller.user.id)
}
