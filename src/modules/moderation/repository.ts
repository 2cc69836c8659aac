import type { Insertable, Kysely, Selectable } from 'kysely'
import type { Database, MessageReportsTable, ModerationActionName, ReportStatusName } from '../../../db/database.ts'

export type ReportRow = Selectable<MessageReportsTable>
export type NewReport = Insertable<MessageReportsTable>

/** The unique key that keeps one open report per reporter and message. */
export const OPEN_REPORT_KEY = 'message_reports_open'

export interface ReviewRecord {
  status: Exclude<ReportStatusName, 'pending'>
  action: ModerationActionName
  reviewNotes: string | null
  reviewedBy: number
  reviewedAt: Date
}

/** Every query of the moderation area. A missing row is `null`. */
export function moderationRepository (db: Kysely<Database>) {
  return {
    async insertReport (report: NewReport): Promise<void> {
      await db.insertInto('message_reports').values(report).execute()
    },

    async findReport (id: Buffer): Promise<ReportRow | null> {
      return await db.selectFrom('message_reports').selectAll().where('id', '=', id).executeTakeFirst() ?? null
    },

    /** A page of reports, newest first (ids are UUIDv7), and how many there are in all. */
    async pageOfReports (status: ReportStatusName | undefined, offset: number, limit: number): Promise<{ rows: ReportRow[], total: number }> {
      let page = db.selectFrom('message_reports').selectAll()
      let count = db.selectFrom('message_reports').select((eb) => eb.fn.countAll<number | string>().as('total'))
      if (status !== undefined) {
        page = page.where('status', '=', status)
        count = count.where('status', '=', status)
      }
      const [rows, counted] = await Promise.all([
        page.orderBy('id', 'desc').limit(limit).offset(offset).execute(),
        count.executeTakeFirst()
      ])
      return { rows, total: Number(counted?.total ?? 0) }
    },

    /**
     * Records a review of a pending report. False when it is not pending any more: another
     * administrator resolved it first.
     */
    async recordReview (id: Buffer, review: ReviewRecord): Promise<boolean> {
      const result = await db.updateTable('message_reports')
        .set({
          status: review.status,
          action: review.action,
          review_notes: review.reviewNotes,
          reviewed_by: review.reviewedBy,
          reviewed_at: review.reviewedAt
        })
        .where('id', '=', id).where('status', '=', 'pending')
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    /** Takes back a review whose action could not be carried out: the report is pending again. */
    async withdrawReview (id: Buffer, review: ReviewRecord): Promise<void> {
      await db.updateTable('message_reports')
        .set({ status: 'pending', action: null, review_notes: null, reviewed_by: null, reviewed_at: null })
        .where('id', '=', id).where('status', '=', review.status).where('reviewed_at', '=', review.reviewedAt)
        .execute()
    }
  }
}

export type ModerationRepository = ReturnType<typeof moderationRepository>
