import type { ChatPreferences } from '../../../schemas/chat.ts'
import type { ArchiveChatResponse, MuteDuration, UpdateChatPreferencesRequest } from '../../../schemas/chat-management.ts'
import { MAX_PINNED_CHATS } from '../../../schemas/chat-management.ts'
import { AppError, forbidden, invalid } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import type { Caller } from '../membership/guard.ts'
import type { ChatManagementDeps } from './deps.ts'
import type { ChatStateRow, PreferenceChanges } from './repository.ts'

/** "Muted forever": the latest time a DATETIME holds. */
export const MUTED_FOREVER = new Date('9999-12-31T23:59:59.000Z')
const HOUR_MS = 3_600_000
const MUTE_MS: Record<Exclude<MuteDuration, 'forever'>, number> = { '1h': HOUR_MS, '8h': 8 * HOUR_MS, '1d': 24 * HOUR_MS }

/** The seed 01 §6.1 ChatPreferences of a state row, as it holds at `now` (an ended mute reads as none). */
export function toChatPreferences (row: ChatStateRow, userId: number, now: number): ChatPreferences {
  const muted = row.muted_until !== null && row.muted_until.getTime() > now
  return {
    groupId: fromBin(row.group_id),
    userId,
    mutedUntil: muted && row.muted_until !== null ? row.muted_until.toISOString() : null,
    notificationLevel: row.notification_level,
    pinned: row.pinned,
    archived: Number(row.archived_now) === 1,
    lastReadMessageId: row.last_read_id === null ? null : fromBin(row.last_read_id),
    lastReadAt: row.last_read_at === null ? null : row.last_read_at.toISOString(),
    unreadCount: Number(row.unread ?? 0),
    showPreviews: row.show_previews
  }
}

async function stateOf (deps: ChatManagementDeps, caller: Caller): Promise<ChatStateRow> {
  const row = await deps.repo.chatState(caller.membership.groupIdBin, caller.user.id)
  if (row === null) throw forbidden('You are not a member of this group')
  return row
}

/** The caller's preferences of the chat. */
export async function getPreferences (deps: ChatManagementDeps, caller: Caller): Promise<ChatPreferences> {
  return toChatPreferences(await stateOf(deps, caller), caller.user.id, deps.clock.now())
}

/** The mute a request asks for: undefined when it does not touch the mute. */
function requestedMute (request: UpdateChatPreferencesRequest, now: number): Date | null | undefined {
  if (request.muteFor !== undefined && request.mutedUntil !== undefined) throw invalid('muteFor', 'Give muteFor or mutedUntil, not both')
  if (request.muteFor !== undefined) return request.muteFor === 'forever' ? MUTED_FOREVER : new Date(now + MUTE_MS[request.muteFor])
  if (request.mutedUntil === undefined || request.mutedUntil === null) return request.mutedUntil
  const until = new Date(request.mutedUntil)
  if (Number.isNaN(until.getTime()) || until.getTime() <= now) throw invalid('mutedUntil', 'mutedUntil must be a time in the future (null unmutes)')
  return until > MUTED_FOREVER ? MUTED_FOREVER : until
}

/**
 * The archive as it holds now, made explicit before the mute changes: the read-time rule
 * (chat-state-sql.ts archivedNow) compares the newest message with the mute in force, so a new
 * mute must not reach back over messages that came before it, nor an unmute over messages
 * that came while muted.
 */
function rebaseArchive (row: ChatStateRow): PreferenceChanges {
  if (!row.archived) return {}
  return Number(row.archived_now) === 1 ? { archived_seq: row.last_seq } : { archived: false }
}

/** Announces the caller's new preferences to all their connections, on every instance. */
function announce (deps: ChatManagementDeps, preferences: ChatPreferences): void {
  deps.bus.publish({ userId: preferences.userId }, { type: 'chat:preferences_updated', payload: preferences })
}

/** Changes the caller's preferences of the chat (only the given fields); pinning respects MAX_PINNED_CHATS. */
export async function updatePreferences (deps: ChatManagementDeps, caller: Caller, request: UpdateChatPreferencesRequest): Promise<ChatPreferences> {
  const now = deps.clock.now()
  const mute = requestedMute(request, now)
  const groupBin = caller.membership.groupIdBin
  const userId = caller.user.id
  await deps.repo.transaction(async (trx) => {
    if (request.pinned === true) await deps.repo.lockUser(userId, trx)
    const row = await deps.repo.chatState(groupBin, userId, trx, true)
    if (row === null) throw forbidden('You are not a member of this group')
    const changes: PreferenceChanges = {}
    if (request.notificationLevel !== undefined) changes.notification_level = request.notificationLevel
    if (request.showPreviews !== undefined) changes.show_previews = request.showPreviews
    if (mute !== undefined) Object.assign(changes, rebaseArchive(row), { muted_until: mute })
    if (request.pinned !== undefined && request.pinned !== row.pinned) {
      if (request.pinned && await deps.repo.pinnedCount(userId, trx) >= MAX_PINNED_CHATS) {
        throw new AppError('CONFLICT', `At most ${MAX_PINNED_CHATS} chats can be pinned; unpin one first`)
      }
      changes.pinned = request.pinned
    }
    await deps.repo.updatePreferences(groupBin, userId, changes, trx)
  })
  const preferences = await getPreferences(deps, caller)
  announce(deps, preferences)
  return preferences
}

/** Archives or unarchives the chat for the caller; a newer message unarchives it unless muted then. */
export async function setArchived (deps: ChatManagementDeps, caller: Caller, isArchived: boolean): Promise<ArchiveChatResponse> {
  const groupBin = caller.membership.groupIdBin
  const userId = caller.user.id
  await deps.repo.transaction(async (trx) => {
    const row = await deps.repo.chatState(groupBin, userId, trx, true)
    if (row === null) throw forbidden('You are not a member of this group')
    await deps.repo.updatePreferences(groupBin, userId, isArchived ? { archived: true, archived_seq: row.last_seq } : { archived: false }, trx)
  })
  const preferences = await getPreferences(deps, caller)
  announce(deps, preferences)
  return { groupId: preferences.groupId, isArchived, archivedAt: isArchived ? new Date(deps.clock.now()).toISOString() : null }
}
