import { CHAT_LIMITS, type PinMessageResponse, type PinnedMessagesResponse, type UnpinMessageResponse } from '../../../schemas/chat.ts'
import { AppError, invalid, notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import { requireRole, type Caller } from '../membership/guard.ts'
import { duplicateKeyOf, isDeadlock } from '../../../db/errors.ts'
import { groupIdOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { findVisibleOrThrow, present } from './present.ts'

/*
 * Pins: a group's admins and owner pin live messages, in pin order, with an optional note.
 */

/** At most this many pinned messages per group. */
export const MAX_PINS_PER_GROUP = 100
const PIN_ATTEMPTS = 10

/** Pins a message (admins and the owner); pinning again replaces the note. */
export async function pinMessage (deps: ChatDeps, caller: Caller, messageId: string, note?: string): Promise<PinMessageResponse> {
  requireRole(caller.membership, 'admin', 'pin messages')
  const groupId = groupIdOf(caller)
  const groupBin = caller.membership.groupIdBin
  if (note !== undefined && (typeof note !== 'string' || note.length > CHAT_LIMITS.pinNoteMaxLength)) {
    throw invalid('note', `note must be at most ${CHAT_LIMITS.pinNoteMaxLength} characters`)
  }
  const row = await findVisibleOrThrow(deps, caller, messageId)
  if (row.is_deleted) throw notFound('Message')
  const id = fromBin(row.id)
  const pinNote = note ?? null
  const pinnedAt = new Date()
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.db.transaction().execute(async (trx) => {
        const state = await deps.repo.pinState(groupBin, row.id, trx)
        if (state.pinned) {
          await deps.repo.updatePinNote(groupBin, row.id, pinNote, trx)
          return
        }
        if (state.count >= MAX_PINS_PER_GROUP) throw new AppError('CONFLICT', `A group can pin at most ${MAX_PINS_PER_GROUP} messages`)
        await deps.repo.insertPin({ message_id: row.id, group_id: groupBin, pinned_by_user_id: caller.user.id, pin_order: state.maxOrder + 1, pin_note: pinNote, pinned_at: pinnedAt }, trx)
      })
      break
    } catch (err) {
      // Two pins raced for the same place (or the same message): take the next one.
      if ((duplicateKeyOf(err) === null && !isDeadlock(err)) || attempt + 1 >= PIN_ATTEMPTS) throw err
    }
  }
  deps.bus.publish({ groupId }, { type: 'chat:message_pinned', payload: { messageId: id, groupId, pinnedBy: caller.user.id, pinNote, pinnedAt: pinnedAt.toISOString() } })
  return { pinned: true, messageId: id }
}

/** Unpins a message (admins and the owner); idempotent. */
export async function unpinMessage (deps: ChatDeps, caller: Caller, messageId: string): Promise<UnpinMessageResponse> {
  requireRole(caller.membership, 'admin', 'unpin messages')
  const groupId = groupIdOf(caller)
  const row = await findVisibleOrThrow(deps, caller, messageId)
  const id = fromBin(row.id)
  if (await deps.repo.deletePin(caller.membership.groupIdBin, row.id)) {
    deps.bus.publish({ groupId }, { type: 'chat:message_unpinned', payload: { messageId: id, groupId, unpinnedBy: caller.user.id } })
  }
  return { unpinned: true, messageId: id }
}

/** The group's pinned messages in pin order, with the pin in their metadata. */
export async function pinnedMessages (deps: ChatDeps, caller: Caller): Promise<PinnedMessagesResponse> {
  const rows = await deps.repo.pinned(caller.membership.groupIdBin, caller.user.id, MAX_PINS_PER_GROUP)
  const messages = await present(deps, rows, caller.user.id, { reactions: true, readBy: false })
  const pinned = messages.map((message, i) => {
    const pin = rows[i] as (typeof rows)[number]
    message.metadata = { ...message.metadata, pinNote: pin.pin_note, pinnedAt: pin.pinned_at.toISOString(), pinnedBy: pin.pinned_by_user_id }
    return message
  })
  return { pinnedMessages: pinned, count: pinned.length }
}
