import type { MarkReadResponse, UnreadCountResponse } from '../../../schemas/chat.ts'
import { notFound } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import { groupIdOf, messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Read and delivered watermarks: they only move forward. A mark read tells the group which
 * messages it newly read and the reader's connections their unread count.
 */

/** chat:message_read lists at most this many of the messages a mark read (the newest ones). */
export const MAX_READ_MESSAGE_IDS = 100

/** Moves the caller's read watermark up to the message; never back. */
export async function markRead (deps: ChatDeps, caller: Caller, messageId: string): Promise<MarkReadResponse> {
  const { repo, bus } = deps
  const groupId = groupIdOf(caller)
  const groupBin = caller.membership.groupIdBin
  const messageBin = messageBinOf(messageId)
  const seq = await repo.seqOf(groupBin, messageBin)
  if (seq === null) throw notFound('Message')
  const id = fromBin(messageBin)
  const readAt = new Date()
  const readAfter = await repo.markReadUpTo(groupBin, caller.user.id, seq, readAt)
  if (readAfter !== null) {
    // The messages this mark newly read, the newest of them when there are many, and the
    // watermark's own message last.
    const earlier = await repo.readableIdsBetween(groupBin, caller.user.id, readAfter, seq, MAX_READ_MESSAGE_IDS - 1)
    const messageIds = [...earlier.map((bin) => fromBin(bin)), id]
    bus.publish({ groupId }, { type: 'chat:message_read', payload: { messageIds, groupId, userId: caller.user.id, readAt: readAt.toISOString() } })
    const unreadCount = await repo.unreadCount(groupBin, caller.user.id)
    bus.publish({ userId: caller.user.id }, { type: 'chat:unread_count', payload: { groupId, unreadCount } })
  } else if (await repo.clearMarkedUnread(groupBin, caller.user.id)) {
    // Nothing newly read, but a chat marked unread by hand is read now.
    bus.publish({ userId: caller.user.id }, { type: 'chat:unread_count', payload: { groupId, unreadCount: await repo.unreadCount(groupBin, caller.user.id) } })
  }
  return { marked: true, upToMessageId: id }
}

/** Messages from others after the caller's read and clear watermarks, not deleted. */
export async function unreadCount (deps: ChatDeps, caller: Caller): Promise<UnreadCountResponse> {
  return { groupId: groupIdOf(caller), unreadCount: await deps.repo.unreadCount(caller.membership.groupIdBin, caller.user.id) }
}

/** Moves the user's delivered watermark up to `seq`; never back. */
export async function markDelivered (deps: ChatDeps, userId: number, groupId: string, seq: number): Promise<void> {
  await deps.repo.markDeliveredUpTo(toBin(groupId), userId, seq)
}

/** Moves several users' delivered watermarks of one group up to `seq` in one write; never back. */
export async function markDeliveredMany (deps: ChatDeps, groupId: string, userIds: readonly number[], seq: number): Promise<void> {
  await deps.repo.markDeliveredUpToMany(toBin(groupId), userIds, seq)
}
