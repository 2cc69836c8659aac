import { sql, type Kysely, type Selectable, type Transaction } from 'kysely'
import type {
  Database, NotificationJobsTable, NotificationLevelName, NotificationTypeName, NotificationsTable, PushWebhookOutboxTable
} from '../../../db/database.ts'

type Executor = Kysely<Database> | Transaction<Database>

export type NotificationJobRow = Selectable<NotificationJobsTable>
export type NewNotificationRow = Omit<Selectable<NotificationsTable>, 'read_at'>
export type OutboxRow = Selectable<PushWebhookOutboxTable>
export type NewOutboxRow = Pick<OutboxRow, 'event_id' | 'user_id' | 'payload' | 'preview_group_id' | 'preview_message_id' | 'next_attempt_at' | 'created_at'>

/** A notification with the names it is shown with. */
export interface NotificationView {
  id: Buffer
  type: NotificationTypeName
  group_id: Buffer
  group_name: string
  message_id: Buffer | null
  actor_user_id: number | null
  actor_username: string | null
  actor_display_name: string | null
  mention_type: 'user' | 'everyone' | null
  emoji: string | null
  read_at: Date | null
  created_at: Date
}

/** A member who may be notified, with what decides whether they are. */
export interface RecipientCandidate {
  user_id: number
  notification_level: NotificationLevelName
  muted_until: Date | null
  show_previews: boolean
  /** The recipient blocked the actor. */
  blocked: boolean
  /** Per-type preferences; null when the user never changed them (all on). */
  mention: boolean | null
  reply: boolean | null
  reaction: boolean | null
  added_to_group: boolean | null
}

export interface JobMessage {
  sender_user_id: number
  parent_message_id: Buffer | null
  metadata: Buffer | null
  metadata_key_version: number | null
  is_deleted: boolean
}

export interface PreferencesRow {
  mention: boolean
  reply: boolean
  reaction: boolean
  added_to_group: boolean
}

/** Multi-row inserts stay well under max_allowed_packet. */
const ROWS_PER_INSERT = 500

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Every query of the notifications area: the inbox, preferences, jobs and the webhook outbox. */
export function notificationRepository (db: Kysely<Database>) {
  const views = (executor: Executor) => executor.selectFrom('notifications as n')
    .innerJoin('mirror_groups as g', 'g.id', 'n.group_id')
    .leftJoin('users as a', 'a.id', 'n.actor_user_id')
    .select([
      'n.id', 'n.type', 'n.group_id', 'g.name as group_name', 'n.message_id', 'n.actor_user_id', 'a.username as actor_username',
      'a.display_name as actor_display_name', 'n.mention_type', 'n.emoji', 'n.read_at', 'n.created_at'
    ])

  return {
    // ---- the inbox ----

    /** Newest first, ids below `beforeId` when given; one more than `limit` tells whether more follow. */
    async page (userId: number, limit: number, beforeId: Buffer | null, unreadOnly: boolean): Promise<NotificationView[]> {
      let query = views(db).where('n.user_id', '=', userId)
      if (beforeId !== null) query = query.where('n.id', '<', beforeId)
      if (unreadOnly) query = query.where('n.read_at', 'is', null)
      return await query.orderBy('n.id', 'desc').limit(limit + 1).execute()
    },

    async findView (userId: number, id: Buffer): Promise<NotificationView | null> {
      return await views(db).where('n.user_id', '=', userId).where('n.id', '=', id).executeTakeFirst() ?? null
    },

    async viewsByIds (ids: Buffer[], trx: Executor = db): Promise<NotificationView[]> {
      if (ids.length === 0) return []
      return await views(trx).where('n.id', 'in', ids).execute()
    },

    /** Unread counts of several users in one query; a user with none is missing from the map. */
    async unreadCounts (userIds: number[]): Promise<Map<number, number>> {
      if (userIds.length === 0) return new Map()
      const rows = await db.selectFrom('notifications').select((eb) => ['user_id', eb.fn.countAll<number>().as('count')])
        .where('user_id', 'in', userIds).where('read_at', 'is', null).groupBy('user_id').execute()
      return new Map(rows.map((row) => [row.user_id, Number(row.count)]))
    },

    async unreadCount (userId: number): Promise<number> {
      const row = await db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('count'))
        .where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirst()
      return Number(row?.count ?? 0)
    },

    /** False when the user has no such notification; marking a read one again keeps its first readAt. */
    async markRead (userId: number, id: Buffer, at: Date): Promise<boolean> {
      const exists = await db.selectFrom('notifications').select('id').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst()
      if (exists === undefined) return false
      await db.updateTable('notifications').set({ read_at: at }).where('user_id', '=', userId).where('id', '=', id).where('read_at', 'is', null).execute()
      return true
    },

    async markAllRead (userId: number, at: Date): Promise<number> {
      const result = await db.updateTable('notifications').set({ read_at: at }).where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirst()
      return Number(result.numUpdatedRows)
    },

    async remove (userId: number, id: Buffer): Promise<boolean> {
      const result = await db.deleteFrom('notifications').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst()
      return result.numDeletedRows > 0n
    },

    async preferences (userId: number): Promise<PreferencesRow | null> {
      return await db.selectFrom('notification_preferences').select(['mention', 'reply', 'reaction', 'added_to_group'])
        .where('user_id', '=', userId).executeTakeFirst() ?? null
    },

    async savePreferences (userId: number, preferences: PreferencesRow): Promise<void> {
      await db.insertInto('notification_preferences')
        .values({ user_id: userId, ...preferences, updated_at: new Date() })
        .onDuplicateKeyUpdate({ ...preferences, updated_at: new Date() })
        .execute()
    },

    // ---- jobs (worker.ts) ----

    /** The oldest jobs nobody else is processing, locked until the transaction ends. */
    async claimJobs (trx: Transaction<Database>, limit: number): Promise<NotificationJobRow[]> {
      return await trx.selectFrom('notification_jobs').selectAll().orderBy('id').limit(limit).forUpdate().skipLocked().execute()
    },

    async deleteJobs (trx: Transaction<Database>, ids: number[]): Promise<void> {
      if (ids.length > 0) await trx.deleteFrom('notification_jobs').where('id', 'in', ids).execute()
    },

    async jobMessage (trx: Executor, groupBin: Buffer, messageBin: Buffer): Promise<JobMessage | null> {
      return await trx.selectFrom('mirror_group_messages')
        .select(['sender_user_id', 'parent_message_id', 'metadata', 'metadata_key_version', 'is_deleted'])
        .where('group_id', '=', groupBin).where('id', '=', messageBin).executeTakeFirst() ?? null
    },

    /** The group's name; null when the group is gone. */
    async groupName (trx: Executor, groupBin: Buffer): Promise<string | null> {
      return (await trx.selectFrom('mirror_groups').select('name').where('id', '=', groupBin).executeTakeFirst())?.name ?? null
    },

    async actorProfile (trx: Executor, userId: number): Promise<{ id: number, username: string, display_name: string | null } | null> {
      return await trx.selectFrom('users').select(['id', 'username', 'display_name']).where('id', '=', userId).executeTakeFirst() ?? null
    },

    /**
     * The group's members among `userIds` (every member when null) other than the actor, with
     * their chat settings, per-type preferences and whether they blocked the actor: one query
     * however many, so @everyone in a large group is one read.
     */
    async candidates (trx: Executor, groupBin: Buffer, actorId: number, userIds: number[] | null): Promise<RecipientCandidate[]> {
      if (userIds !== null && userIds.length === 0) return []
      let query = trx.selectFrom('mirror_group_members as m')
        .leftJoin('notification_preferences as p', 'p.user_id', 'm.user_id')
        .leftJoin('user_blocks as b', (join) => join.onRef('b.blocker_id', '=', 'm.user_id').on('b.blocked_id', '=', actorId))
        .select([
          'm.user_id', 'm.notification_level', 'm.muted_until', 'm.show_previews',
          sql<boolean>`b.blocker_id IS NOT NULL`.as('blocked'),
          'p.mention', 'p.reply', 'p.reaction', 'p.added_to_group'
        ])
        .where('m.group_id', '=', groupBin).where('m.user_id', '<>', actorId)
      if (userIds !== null) query = query.where('m.user_id', 'in', userIds)
      const rows = await query.execute()
      return rows.map((r) => ({ ...r, blocked: Boolean(Number(r.blocked)) }))
    },

    async insertNotifications (trx: Transaction<Database>, rows: NewNotificationRow[]): Promise<void> {
      for (const part of chunks(rows, ROWS_PER_INSERT)) await trx.insertInto('notifications').values(part).execute()
    },

    // ---- the webhook outbox (webhook.ts) ----

    async insertOutbox (trx: Transaction<Database>, rows: NewOutboxRow[]): Promise<void> {
      for (const part of chunks(rows, ROWS_PER_INSERT)) await trx.insertInto('push_webhook_outbox').values(part).execute()
    },

    /**
     * Leases due deliveries to `owner` until `leaseUntil`: rows another instance is claiming are
     * skipped, and a leased row is not due again before its lease ends, so no two instances post
     * the same event at the same time.
     */
    async claimDue (owner: string, now: Date, leaseUntil: Date, limit: number): Promise<OutboxRow[]> {
      // READ COMMITTED, as the notification worker's round: no gap locks to hold up its inserts.
      return await db.transaction().setIsolationLevel('read committed').execute(async (trx) => {
        const due = await trx.selectFrom('push_webhook_outbox').select('id')
          .where('status', '=', 'pending').where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
          .orderBy('next_attempt_at').limit(limit).forUpdate().skipLocked().execute()
        if (due.length === 0) return []
        const ids = due.map((r) => r.id)
        await trx.updateTable('push_webhook_outbox').set({ locked_by: owner, locked_until: leaseUntil }).where('id', 'in', ids).execute()
        return await trx.selectFrom('push_webhook_outbox').selectAll().where('id', 'in', ids).execute()
      })
    },

    /** Delivered: the row goes (still leased to `owner`, or another instance owns it now). */
    async delivered (id: number, owner: string): Promise<void> {
      await db.deleteFrom('push_webhook_outbox').where('id', '=', id).where('locked_by', '=', owner).execute()
    },

    async retryLater (id: number, owner: string, nextAttemptAt: Date, error: string): Promise<void> {
      await db.updateTable('push_webhook_outbox')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: nextAttemptAt, locked_by: null, locked_until: null, last_error: error }))
        .where('id', '=', id).where('locked_by', '=', owner).execute()
    },

    async deadLetter (id: number, owner: string, at: Date, error: string): Promise<void> {
      await db.updateTable('push_webhook_outbox')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), status: 'dead', dead_at: at, locked_by: null, locked_until: null, last_error: error }))
        .where('id', '=', id).where('locked_by', '=', owner).execute()
    },

    /** Gives leases back unattempted (shutdown): due again at once, for any instance. */
    async release (ids: number[], owner: string): Promise<void> {
      if (ids.length === 0) return
      await db.updateTable('push_webhook_outbox').set({ locked_by: null, locked_until: null })
        .where('id', 'in', ids).where('locked_by', '=', owner).execute()
    },

    async outboxDepth (): Promise<number> {
      const row = await db.selectFrom('push_webhook_outbox').select((eb) => eb.fn.countAll<number>().as('count'))
        .where('status', '=', 'pending').executeTakeFirst()
      return Number(row?.count ?? 0)
    },

    /** The message's content for a preview; null when it is deleted or gone. */
    async previewSource (groupBin: Buffer, messageBin: Buffer): Promise<{ content: Buffer, content_key_version: number } | null> {
      const row = await db.selectFrom('mirror_group_messages').select(['content', 'content_key_version', 'is_deleted'])
        .where('group_id', '=', groupBin).where('id', '=', messageBin).executeTakeFirst()
      return row === undefined || row.is_deleted ? null : row
    }
  }
}

export type NotificationRepository = ReturnType<typeof notificationRepository>
