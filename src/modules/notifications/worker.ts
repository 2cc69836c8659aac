import type { FastifyBaseLogger } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../../../db/database.ts'
import type { Notification, PushWebhookPayload } from '../../../schemas/notifications.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Keyring } from '../../lib/keyring.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { createPump, type Pump } from './pump.ts'
import { recipientsOf, type Recipient } from './recipients.ts'
import type { NewNotificationRow, NewOutboxRow, NotificationJobRow, NotificationRepository } from './repository.ts'

/*
 * Turns committed notification jobs into notifications, off every request path. A round claims
 * the oldest jobs no other instance holds (FOR UPDATE SKIP LOCKED), creates their
 * notifications (and the webhook outbox rows of offline recipients) and deletes the jobs in
 * one transaction: a crash anywhere before the commit leaves the jobs for the next round, here
 * or on another instance, and a job never notifies twice. The live `notification` events are
 * published after the commit.
 */

/** Jobs per transaction; an @everyone job of a large group is one job with batched inserts. */
const JOBS_PER_ROUND = 20

export interface NotificationWorkerDeps {
  db: Kysely<Database>
  repo: NotificationRepository
  keyring: Keyring
  bus: Bus
  log: FastifyBaseLogger
  pollMs: number
  /** The time notifications are dated and mutes are read in. */
  clock: Clock
  /** The users among these with a live connection (presence). */
  onlineUserIds: (userIds: number[]) => Promise<Set<number>>
  /** Offline recipients get an outbox row; null without PUSH_WEBHOOK_URL. */
  webhook: { previews: boolean, written: () => void } | null
}

interface Created {
  notification: Notification
  userId: number
}

/** Chunks presence lookups: one Redis command per thousand users. */
async function offlineAmong (deps: NotificationWorkerDeps, userIds: number[]): Promise<Set<number>> {
  const online = new Set<number>()
  for (let i = 0; i < userIds.length; i += 1000) {
    for (const id of await deps.onlineUserIds(userIds.slice(i, i + 1000))) online.add(id)
  }
  return new Set(userIds.filter((id) => !online.has(id)))
}

async function notificationsOf (deps: NotificationWorkerDeps, trx: Transaction<Database>, job: NotificationJobRow, recipients: Recipient[], now: Date) {
  const [groupName, actor] = await Promise.all([deps.repo.groupName(trx, job.group_id), deps.repo.actorProfile(trx, job.actor_user_id)])
  if (groupName === null) return { rows: [], created: [], outbox: [] }
  const rows: NewNotificationRow[] = []
  const created: Created[] = []
  for (const { candidate, type, mentionType } of recipients) {
    const id = newId()
    const row: NewNotificationRow = {
      id: toBin(id),
      user_id: candidate.user_id,
      type,
      group_id: job.group_id,
      message_id: type === 'added_to_group' ? null : job.message_id,
      actor_user_id: job.actor_user_id,
      mention_type: mentionType,
      emoji: type === 'reaction' ? job.emoji : null,
      created_at: now
    }
    rows.push(row)
    created.push({
      userId: candidate.user_id,
      notification: {
        id,
        type,
        groupId: fromBin(job.group_id),
        groupName,
        messageId: row.message_id === null ? null : fromBin(row.message_id),
        actor: actor === null ? null : { id: actor.id, username: actor.username, displayName: actor.display_name },
        mentionType,
        emoji: row.emoji,
        isRead: false,
        readAt: null,
        createdAt: now.toISOString()
      }
    })
  }
  return { rows, created, outbox: await outboxRowsOf(deps, recipients, created, now) }
}

/** One webhook delivery per offline recipient, with what the body will carry besides its eventId and timestamp. */
async function outboxRowsOf (deps: NotificationWorkerDeps, recipients: Recipient[], created: Created[], now: Date): Promise<NewOutboxRow[]> {
  const webhook = deps.webhook
  if (webhook === null || created.length === 0) return []
  const offline = await offlineAmong(deps, created.map((c) => c.userId))
  return created.flatMap(({ userId, notification }, i): NewOutboxRow[] => {
    if (!offline.has(userId)) return []
    const { isRead: _isRead, readAt: _readAt, ...shown } = notification
    const body: Omit<PushWebhookPayload, 'eventId' | 'timestamp'> = { type: 'notification', userId, notification: shown }
    const preview = webhook.previews && (recipients[i] as Recipient).candidate.show_previews && notification.messageId !== null
    return [{
      event_id: toBin(newId()),
      user_id: userId,
      payload: JSON.stringify(body),
      preview_group_id: preview ? toBin(notification.groupId) : null,
      preview_message_id: preview && notification.messageId !== null ? toBin(notification.messageId) : null,
      next_attempt_at: now,
      created_at: now
    }]
  })
}

/**
 * One transaction: claim jobs, create their notifications and outbox rows, delete the jobs.
 * READ COMMITTED: under REPEATABLE READ the claim's locking read also locks the gap after the
 * last job, so every transaction recording a job (a send, a group created with members)
 * waited on this one and could deadlock with it; here only the claimed rows are locked.
 */
async function runRound (deps: NotificationWorkerDeps): Promise<{ jobs: number, created: Created[], outbox: number }> {
  return await deps.db.transaction().setIsolationLevel('read committed').execute(async (trx) => {
    const jobs = await deps.repo.claimJobs(trx, JOBS_PER_ROUND)
    const rows: NewNotificationRow[] = []
    const created: Created[] = []
    const outbox: NewOutboxRow[] = []
    const now = new Date(deps.clock.now())
    for (const job of jobs) {
      let recipients: Recipient[]
      try {
        recipients = await recipientsOf(deps, trx, job, now)
      } catch (err) {
        // A job that cannot be read (its metadata no longer decrypts…) must not block the rest.
        deps.log.error({ err, jobId: job.id }, 'notification job dropped')
        continue
      }
      if (recipients.length === 0) continue
      const made = await notificationsOf(deps, trx, job, recipients, now)
      rows.push(...made.rows)
      created.push(...made.created)
      outbox.push(...made.outbox)
    }
    await deps.repo.insertNotifications(trx, rows)
    await deps.repo.insertOutbox(trx, outbox)
    await deps.repo.deleteJobs(trx, jobs.map((j) => j.id))
    return { jobs: jobs.length, created, outbox: outbox.length }
  })
}

/** The worker of this instance: runs when woken (a job committed here) and at every poll. */
export function createNotificationWorker (deps: NotificationWorkerDeps): Pump {
  return createPump('notification worker', async () => {
    const { jobs, created, outbox } = await runRound(deps)
    for (const { userId, notification } of created) {
      deps.bus.publish({ userId }, { type: 'notification', payload: notification })
    }
    if (outbox > 0) deps.webhook?.written()
    return jobs === JOBS_PER_ROUND
  }, deps.pollMs, deps.log)
}
