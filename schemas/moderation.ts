import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, uuid, userId, isoDateTime } from './common.ts'
import { ChatMessage } from './chat.ts'

/*
 * Moderation (seed 04 "Message Reporting", DESIGN §4): members report a message of their group;
 * system administrators (ADMIN_USER_IDS and `npm run admin -- grant`) review the reports and
 * may delete the message or remove its sender from the group. Seed 04's ReportedMessages
 * fields, camelCase, plus the group, the reported user and the action taken.
 */

const UuidString = uuid()
const UserIdInt = userId()
const IsoTime = isoDateTime()

export const MODERATION_LIMITS = {
  detailsMaxLength: 1000,
  reviewNotesMaxLength: 2000,
  pageSizeDefault: 20,
  pageSizeMax: 100
} as const

export const ReportReason = Type.Union([
  Type.Literal('spam'), Type.Literal('harassment'), Type.Literal('inappropriate'), Type.Literal('other')
], { $id: 'ReportReason', description: 'spam: unwanted promotion; harassment: abusive or threatening; inappropriate: offensive or explicit; other' })
export type ReportReason = Static<typeof ReportReason>

export const ReportStatus = Type.Union([
  Type.Literal('pending'), Type.Literal('reviewed'), Type.Literal('dismissed')
], { $id: 'ReportStatus', description: 'pending until an administrator reviews (acts on) or dismisses it' })
export type ReportStatus = Static<typeof ReportStatus>

export const ModerationAction = Type.Union([
  Type.Literal('none'), Type.Literal('delete_message'), Type.Literal('remove_sender')
], { $id: 'ModerationAction', description: 'delete_message: soft-deletes the message for everyone; remove_sender: removes its sender from the group' })
export type ModerationAction = Static<typeof ModerationAction>

/** POST /groups/:groupId/chat/messages/:messageId/report */
export const ReportMessageRequest = Type.Object({
  reason: Ref(ReportReason),
  details: Type.Optional(Type.String({ maxLength: MODERATION_LIMITS.detailsMaxLength, description: 'Optional explanation for the reviewers' }))
}, { $id: 'ReportMessageRequest', additionalProperties: false })
export type ReportMessageRequest = Static<typeof ReportMessageRequest>

/** A report as its reporter sees it. */
export const MessageReport = Type.Object({
  id: UuidString,
  messageId: UuidString,
  groupId: UuidString,
  reportedBy: UserIdInt,
  reason: Ref(ReportReason),
  details: Type.Union([Type.String(), Type.Null()]),
  status: Ref(ReportStatus),
  createdAt: IsoTime
}, { $id: 'MessageReport' })
export type MessageReport = Static<typeof MessageReport>

export const MessageReportResponse = Type.Object({ report: Ref(MessageReport) }, { $id: 'MessageReportResponse' })
export type MessageReportResponse = Static<typeof MessageReportResponse>

/** A report as administrators see it: the review, and the message as it is now (null once its group is gone). */
export const AdminReport = Type.Object({
  id: UuidString,
  messageId: UuidString,
  groupId: UuidString,
  reportedBy: UserIdInt,
  reportedUserId: Type.Integer({ minimum: 1, description: 'The sender of the reported message' }),
  reason: Ref(ReportReason),
  details: Type.Union([Type.String(), Type.Null()]),
  status: Ref(ReportStatus),
  action: Type.Union([Ref(ModerationAction), Type.Null()], { description: 'What the review did; null while pending' }),
  createdAt: IsoTime,
  reviewedAt: Type.Union([IsoTime, Type.Null()]),
  reviewedBy: Type.Union([UserIdInt, Type.Null()]),
  reviewNotes: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Ref(ChatMessage), Type.Null()])
}, { $id: 'AdminReport' })
export type AdminReport = Static<typeof AdminReport>

/** GET /admin/reports: newest first, by page (1-based). */
export const AdminReportsQuery = Type.Object({
  // Inline, not a Ref: OpenAPI lists a query string's parameters only from plain properties.
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('reviewed'), Type.Literal('dismissed')], { description: 'Only reports in this status; all when absent' })),
  page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }),
  limit: Type.Integer({ minimum: 1, maximum: MODERATION_LIMITS.pageSizeMax, default: MODERATION_LIMITS.pageSizeDefault })
})
export type AdminReportsQuery = Static<typeof AdminReportsQuery>

export const AdminReportsResponse = Type.Object({
  reports: Type.Array(Ref(AdminReport)),
  page: Type.Integer({ minimum: 1 }),
  limit: Type.Integer({ minimum: 1 }),
  total: Type.Integer({ minimum: 0 }),
  hasMore: Type.Boolean()
}, { $id: 'AdminReportsResponse' })
export type AdminReportsResponse = Static<typeof AdminReportsResponse>

/** PUT /admin/reports/:reportId: resolves a pending report, once. */
export const ReviewReportRequest = Type.Object({
  status: Type.Union([Type.Literal('reviewed'), Type.Literal('dismissed')]),
  reviewNotes: Type.Optional(Type.String({ maxLength: MODERATION_LIMITS.reviewNotesMaxLength })),
  action: Type.Optional(Ref(ModerationAction))
}, { $id: 'ReviewReportRequest', additionalProperties: false, description: 'A dismissal takes no action other than none' })
export type ReviewReportRequest = Static<typeof ReviewReportRequest>

export const AdminReportResponse = Type.Object({ report: Ref(AdminReport) }, { $id: 'AdminReportResponse' })
export type AdminReportResponse = Static<typeof AdminReportResponse>

export const ReportIdParams = Type.Object({ reportId: UuidString })
export type ReportIdParams = Static<typeof ReportIdParams>

export const moderationSchemas: TSchema[] = [
  ReportReason, ReportStatus, ModerationAction, ReportMessageRequest, MessageReport, MessageReportResponse,
  AdminReport, AdminReportsResponse, ReviewReportRequest, AdminReportResponse
]
