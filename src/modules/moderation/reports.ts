import type { MessageReport, ReportMessageRequest } from '../../../schemas/moderation.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import { newId, toBin } from '../../lib/ids.ts'
import type { Keyring } from '../../lib/keyring.ts'
import type { Caller } from '../membership/guard.ts'
import type { ChatService } from '../chat/service.ts'
import { duplicateKeyOf } from '../../../db/errors.ts'
import { OPEN_REPORT_KEY, type ModerationRepository } from './repository.ts'
import { DETAILS_FIELD, toMessageReport } from './report-view.ts'

export interface ReportDeps {
  repo: ModerationRepository
  chat: ChatService
  keyring: Keyring
}

/**
 * A member reports a message of their group that they can see (not cleared for them, not
 * deleted, not their own). One open report per reporter and message: a second one while the
 * first is pending is a CONFLICT; after it is resolved they may report again.
 */
export async function reportMessage (deps: ReportDeps, caller: Caller, messageId: string, request: ReportMessageRequest): Promise<MessageReport> {
  // The chat service's visibility rules decide: a message the caller cannot read is not found.
  const message = await deps.chat.getMessage(caller, messageId)
  if (message.isDeleted) throw notFound('Message')
  if (message.senderUserId === caller.user.id) throw forbidden('You cannot report your own message')

  const id = newId()
  const details = request.details?.trim() ?? ''
  const sealed = details.length === 0 ? null : await deps.keyring.encrypt(message.groupId, details, { recordId: id, field: DETAILS_FIELD })
  const row = {
    id: toBin(id),
    group_id: toBin(message.groupId),
    message_id: toBin(message.id),
    reported_user_id: message.senderUserId,
    reporter_id: caller.user.id,
    reason: request.reason,
    details: sealed?.ciphertext ?? null,
    details_key_version: sealed?.keyVersion ?? null,
    status: 'pending' as const,
    action: null,
    review_notes: null,
    reviewed_by: null,
    reviewed_at: null,
    created_at: new Date()
  }
  try {
    await deps.repo.insertReport(row)
  } catch (err) {
    if (duplicateKeyOf(err)?.endsWith(OPEN_REPORT_KEY) === true) {
      throw new AppError('CONFLICT', 'You have already reported this message; your report is awaiting review')
    }
    throw err
  }
  return toMessageReport({ ...row, open_flag: 1 }, details.length === 0 ? null : details)
}
