import fp from 'fastify-plugin'
import type {
  AdminReport, AdminReportsQuery, AdminReportsResponse, MessageReport, ReportMessageRequest, ReviewReportRequest
} from '../../../schemas/moderation.ts'
import type { Caller } from '../membership/guard.ts'
import { moderationRepository } from './repository.ts'
import { reportMessage } from './reports.ts'
import { listReports, reviewReport } from './review.ts'

/** Reports by members and their review by system administrators (the spam rules of sends: spam-plugin.ts). */
export interface ModerationService {
  /** Reports a message the caller can see; one open report per reporter and message. */
  reportMessage: (caller: Caller, messageId: string, request: ReportMessageRequest) => Promise<MessageReport>
  /** A page of reports for administrators, newest first. */
  listReports: (query: AdminReportsQuery) => Promise<AdminReportsResponse>
  /** Resolves a pending report and carries out its action, recording who and when. */
  reviewReport: (reportId: string, adminId: number, request: ReviewReportRequest) => Promise<AdminReport>
}

declare module 'fastify' {
  interface FastifyInstance {
    moderationService: ModerationService
  }
}

export default fp(async function moderationServicePlugin (fastify) {
  const repo = moderationRepository(fastify.db)
  const deps = { repo, chat: fastify.chatService, groups: fastify.groupService, keyring: fastify.keyring }
  const service: ModerationService = {
    reportMessage: async (caller, messageId, request) => await reportMessage(deps, caller, messageId, request),
    listReports: async (query) => await listReports(deps, query),
    reviewReport: async (reportId, adminId, request) => await reviewReport(deps, reportId, adminId, request)
  }
  fastify.decorate('moderationService', service)
}, { name: 'moderation-service', dependencies: ['db', 'crypto', 'chat-service', 'group-service'] })
