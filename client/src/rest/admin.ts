import type { AdminReportResponse, AdminReportsQuery, AdminReportsResponse, ReviewReportRequest } from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /admin: moderation for system administrators (403 for everyone else). */
export function adminApi (call: Call) {
  return {
    reports: async (query: Partial<AdminReportsQuery> = {}) => await call<AdminReportsResponse>('GET', '/admin/reports', { query }),
    /** Resolves a report once: reviewed or dismissed, optionally deleting the message or removing its sender. */
    review: async (reportId: string, body: ReviewReportRequest) => await call<AdminReportResponse>('PUT', pathOf('/admin/reports/{reportId}', { reportId }), { body })
  }
}
