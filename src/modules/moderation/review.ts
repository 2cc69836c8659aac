import type { AdminReport, AdminReportsQuery, AdminReportsResponse, ModerationAction, ReviewReportRequest } from '../../../schemas/moderation.ts'
import { AppError, invalid, notFound } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { Keyring } from '../../lib/keyring.ts'
import type { ChatService } from '../chat/service.ts'
import type { GroupService } from '../groups/service.ts'
import type { ModerationRepository, ReportRow, ReviewRecord } from './repository.ts'
import { openDetails, toAdminReport } from './report-view.ts'

export interface ReviewDeps {
  repo: ModerationRepository
  chat: ChatService
  groups: GroupService
  keyring: Keyring
}

function reportIdBinOf (reportId: string): Buffer {
  try { return toBin(reportId) } catch { throw notFound('Report') }
}

async function adminView (deps: ReviewDeps, row: ReportRow): Promise<AdminReport> {
  const [details, message] = await Promise.all([
    openDetails(deps.keyring, row),
    deps.chat.messageForModeration(fromBin(row.group_id), fromBin(row.message_id))
  ])
  return toAdminReport(row, details, message)
}

/** A page of reports, newest first, optionally of one status. */
export async function listReports (deps: ReviewDeps, query: AdminReportsQuery): Promise<AdminReportsResponse> {
  const { page, limit } = query
  const { rows, total } = await deps.repo.pageOfReports(query.status, (page - 1) * limit, limit)
  const reports = await Promise.all(rows.map(async (row) => await adminView(deps, row)))
  return { reports, page, limit, total, hasMore: (page - 1) * limit + rows.length < total }
}

/**
 * What a review does, through the services that own it, so it is announced as any such change:
 * delete_message soft-deletes the message (chat:message_deleted); remove_sender removes its
 * sender from the group (chat:member_left, their subscriptions end everywhere). Both are
 * idempotent: a message deleted already or a sender gone already is fine.
 */
async function carryOut (deps: ReviewDeps, action: ModerationAction, row: ReportRow, adminId: number): Promise<void> {
  const groupId = fromBin(row.group_id)
  if (action === 'delete_message') await deps.chat.deleteForModeration(groupId, fromBin(row.message_id), adminId)
  if (action === 'remove_sender') await deps.groups.removeByModerator(groupId, row.reported_user_id, adminId)
}

/**
 * Resolves a pending report once: `reviewed` (with an action, default none) or `dismissed` (no
 * action). The review is recorded first, so of two administrators acting at once only one acts
 * and the other gets CONFLICT; an action that fails takes the review back and the report is
 * pending again.
 */
export async function reviewReport (deps: ReviewDeps, reportId: string, adminId: number, request: ReviewReportRequest): Promise<AdminReport> {
  const action = request.action ?? 'none'
  if (request.status === 'dismissed' && action !== 'none') throw invalid('action', 'action must be none when the report is dismissed')
  const id = reportIdBinOf(reportId)
  const row = await deps.repo.findReport(id)
  if (row === null) throw notFound('Report')
  const review: ReviewRecord = {
    status: request.status,
    action,
    reviewNotes: request.reviewNotes?.trim() === '' ? null : request.reviewNotes ?? null,
    reviewedBy: adminId,
    // Milliseconds, as DATETIME(3) keeps them: withdrawReview finds the review by it.
    reviewedAt: new Date()
  }
  if (row.status !== 'pending' || !await deps.repo.recordReview(id, review)) {
    throw new AppError('CONFLICT', 'This report was resolved already')
  }
  try {
    await carryOut(deps, action, row, adminId)
  } catch (err) {
    await deps.repo.withdrawReview(id, review)
    throw err
  }
  const reviewed: ReportRow = {
    ...row,
    status: review.status,
    open_flag: null,
    action: review.action,
    review_notes: review.reviewNotes,
    reviewed_by: review.reviewedBy,
    reviewed_at: review.reviewedAt
  }
  return await adminView(deps, reviewed)
}
