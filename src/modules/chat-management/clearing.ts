import type { ClearHistoryResponse, DeleteChatResponse } from '../../../schemas/chat-management.ts'
import type { ServerEvent } from '../../../schemas/events.ts'
import { forbidden, notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import { hasRole, type Caller } from '../membership/guard.ts'
import type { ChatManagementDeps } from './deps.ts'

const clearedEvent = (groupId: string, upToSeq: number, forEveryone: boolean, clearedBy: number, hidden: boolean): ServerEvent =>
  ({ type: 'chat:messages_cleared', payload: { groupId, upToSeq, forEveryone, clearedBy, hidden } })

async function newestSeq (deps: ChatManagementDeps, groupBin: Buffer): Promise<number> {
  const newest = await deps.repo.newest(groupBin)
  if (newest === null) throw notFound('Group')
  return newest.last_seq
}

/** Clears the caller's history up to now (and hides a deleted direct chat); tells all their devices. */
async function clearForCaller (deps: ChatManagementDeps, caller: Caller, hide: boolean): Promise<number> {
  const groupBin = caller.membership.groupIdBin
  const groupId = fromBin(groupBin)
  const userId = caller.user.id
  const upToSeq = await newestSeq(deps, groupBin)
  await deps.repo.clearForUser(groupBin, userId, upToSeq, hide)
  deps.bus.publish({ userId }, clearedEvent(groupId, upToSeq, false, userId, hide))
  deps.bus.publish({ userId }, { type: 'chat:unread_count', payload: { groupId, unreadCount: 0 } })
  return upToSeq
}

/**
 * Deletes the chat for the caller (seed 05 §1). A direct chat is cleared and hidden for them
 * until a newer message arrives, which brings it back; the other user sees no change. In a
 * group it is leaving: ownership passes on, the last member out deletes the group.
 */
export async function deleteChat (deps: ChatManagementDeps, caller: Caller): Promise<DeleteChatResponse> {
  const groupId = fromBin(caller.membership.groupIdBin)
  const deletedAt = new Date(deps.clock.now()).toISOString()
  if (caller.membership.groupType === 'direct') {
    await clearForCaller(deps, caller, true)
    return { groupId, deletedAt, left: false }
  }
  await deps.groups.leaveGroup(groupId, caller.user.id)
  return { groupId, deletedAt, left: true }
}

/**
 * Clears the chat's history (seed 05 §2): for the caller, or, by a group admin or the owner,
 * for every member, each of whom gets chat:messages_cleared on all their connections. Cleared
 * messages stay stored (sealed) but never come back in history, search, unread counts,
 * replay, pins or reply previews.
 */
export async function clearHistory (deps: ChatManagementDeps, caller: Caller, forEveryone: boolean): Promise<ClearHistoryResponse> {
  const groupBin = caller.membership.groupIdBin
  const groupId = fromBin(groupBin)
  const clearedAt = new Date(deps.clock.now()).toISOString()
  if (!forEveryone) {
    const upToSeq = await clearForCaller(deps, caller, false)
    return { groupId, clearedAt, forEveryone, upToSeq }
  }
  if (caller.membership.groupType === 'direct' || !hasRole(caller.membership.role, 'admin')) {
    throw forbidden('Only a group admin or the owner can clear the chat for everyone')
  }
  const upToSeq = await newestSeq(deps, groupBin)
  await deps.repo.clearForEveryone(groupBin, upToSeq)
  const event = clearedEvent(groupId, upToSeq, true, caller.user.id, false)
  for (const userId of await deps.repo.memberIds(groupBin)) deps.bus.publish({ userId }, event)
  return { groupId, clearedAt, forEveryone, upToSeq }
}
