import type { ChatMessage } from '../../../schemas/chat.ts'
import type { AdminReport, MessageReport } from '../../../schemas/moderation.ts'
import { DecryptionError, type Keyring } from '../../lib/keyring.ts'
import { fromBin } from '../../lib/ids.ts'
import type { ReportRow } from './repository.ts'

/** Where a report's details are sealed: the group's key, the report's id, this field. */
export const DETAILS_FIELD = 'report-details'

/** A report's details in plain text; null without details, or once the group's keys are destroyed. */
export async function openDetails (keyring: Keyring, row: ReportRow): Promise<string | null> {
  if (row.details === null || row.details_key_version === null) return null
  const context = { recordId: fromBin(row.id), field: DETAILS_FIELD }
  return await keyring.decrypt(fromBin(row.group_id), { ciphertext: row.details, keyVersion: row.details_key_version }, context)
    .catch((err: unknown) => {
      // A deleted group's keys are shredded: its reports stay, their words cannot be read.
      if (err instanceof DecryptionError) return null
      throw err
    })
}

/** A report as its reporter sees it. */
export function toMessageReport (row: ReportRow, details: string | null): MessageReport {
  return {
    id: fromBin(row.id),
    messageId: fromBin(row.message_id),
    groupId: fromBin(row.group_id),
    reportedBy: row.reporter_id,
    reason: row.reason,
    details,
    status: row.status,
    createdAt: row.created_at.toISOString()
  }
}

/** A report as administrators see it, with the message as it is now. */
export function toAdminReport (row: ReportRow, details: string | null, message: ChatMessage | null): AdminReport {
  return {
    ...toMessageReport(row, details),
    reportedUserId: row.reported_user_id,
    action: row.action,
    reviewedAt: row.reviewed_at === null ? null : row.reviewed_at.toISOString(),
    reviewedBy: row.reviewed_by,
    reviewNotes: row.review_notes,
    message
  }
}
