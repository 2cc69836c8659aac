import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import { AdminReportResponse, AdminReportsQuery, AdminReportsResponse, ReportIdParams, ReviewReportRequest } from '../../../schemas/moderation.ts'
import { ok } from '../../lib/envelope.ts'
import { requireSystemAdmin } from '../admins/service.ts'

const Failure = Ref(ErrorResponse)

/**
 * /admin: the report queue of seed 04's admin dashboard. System administrators only: 401
 * without a token, 403 for anyone else.
 */
const adminRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  // Before validation: whatever they send, non-administrators learn nothing but 403.
  fastify.addHook('onRequest', requireSystemAdmin(fastify.adminService))
  const moderation = fastify.moderationService

  fastify.get('/reports', {
    schema: {
      tags: ['moderation'],
      summary: 'Reports, newest first, by page; ?status= narrows to pending, reviewed or dismissed',
      querystring: AdminReportsQuery,
      response: { 200: Envelope(Ref(AdminReportsResponse)), 400: Failure, 401: Failure, 403: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok(await moderation.listReports(request.query))
  })

  fastify.put('/reports/:reportId', {
    schema: {
      tags: ['moderation'],
      summary: 'Resolve a pending report: reviewed (with an action) or dismissed; recorded with reviewedBy and reviewedAt',
      params: ReportIdParams,
      body: Ref(ReviewReportRequest),
      response: { 200: Envelope(Ref(AdminReportResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ report: await moderation.reviewReport(request.params.reportId, request.user.id, request.body) })
  })
}

export default adminRoutes
