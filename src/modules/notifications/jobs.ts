import fp from 'fastify-plugin'
import type { Insertable, Kysely } from 'kysely'
import type { Database, NotificationJobsTable } from '../../../db/database.ts'

/*
 * What may notify someone, recorded durably where it happens and turned into notifications by
 * the worker (worker.ts) off the request path. The send transaction writes its rows itself
 * (send-transaction.ts: one row per message that mentions or replies, never one per
 * recipient); reactions and additions to a group write theirs through `recordJobs`, in their
 * own transaction where they have one.
 */

export type NewNotificationJob = Omit<Insertable<NotificationJobsTable>, 'id' | 'created_at'>

/** The table the send transaction inserts into directly. */
export const NOTIFICATION_JOBS_TABLE = 'notification_jobs'

/** Records jobs for the notification worker; call `notificationJobs.recorded()` after the commit. */
export async function recordJobs (db: Kysely<Database>, jobs: NewNotificationJob[]): Promise<void> {
  if (jobs.length === 0) return
  const createdAt = new Date()
  await db.insertInto('notification_jobs').values(jobs.map((job) => ({ ...job, created_at: createdAt }))).execute()
}

/**
 * Wakes the worker of this instance when a job was committed here, so notifications follow at
 * once instead of at the next poll (NOTIFICATION_POLL_MS); jobs committed elsewhere (or before a
 * restart) are found by the poll.
 */
export interface NotificationJobs {
  recorded: () => void
  onRecorded: (listener: () => void) => () => void
}

declare module 'fastify' {
  interface FastifyInstance {
    notificationJobs: NotificationJobs
  }
}

export default fp(async function notificationJobsPlugin (fastify) {
  const listeners = new Set<() => void>()
  fastify.decorate('notificationJobs', {
    recorded () {
      for (const listener of listeners) listener()
    },
    onRecorded (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  } satisfies NotificationJobs)
}, { name: 'notification-jobs' })
