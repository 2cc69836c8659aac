import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database, NotificationLevelName } from '../../../db/database.ts'
import { archivedNow, hiddenNow, lastReadIdOf, mutedAt, unreadCountOf } from '../chat/chat-state-sql.ts'

type Executor = Kysely<Database> | Transaction<Database>

/** The user's chat state in one group, with what is derived from it now. */
export interface ChatStateRow {
  group_id: Buffer
  last_seq: number
  archived: boolean
  archived_now: number | boolean
  pinned: boolean
  muted_until: Date | null
  notification_level: NotificationLevelName
  show_previews: boolean
  last_read_at: Date | null
  unread: number | string | bigint | null
  last_read_id: Buffer | null
}

export interface UnreadRow {
  group_id: Buffer
  unread: number | string | bigint | null
  last_read_id: Buffer | null
  last_at: Date | null
}

export interface PreferenceChanges {
  notification_level?: NotificationLevelName
  show_previews?: boolean
  pinned?: boolean
  muted_until?: Date | null
  archived?: boolean
  archived_seq?: number
}

/** Every query of chat management (seed 05 §§1–5): the caller's row of mirror_group_members, mostly. */
export function chatManagementRepository (db: Kysely<Database>) {
  return {
    /** Runs `work` in one transaction. */
    async transaction<T> (work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return await db.transaction().execute(work)
    },

    /** The user's state in the group (null when not a member); `forUpdate` locks the member row. */
    async chatState (groupBin: Buffer, userId: number, trx: Executor = db, forUpdate = false): Promise<ChatStateRow | null> {
      let query = trx.selectFrom('mirror_group_members as m')
        .innerJoin('mirror_groups as g', 'g.id', 'm.group_id')
        .select([
          'm.group_id', 'g.last_seq', 'm.archived', 'm.pinned', 'm.muted_until', 'm.notification_level', 'm.show_previews', 'm.last_read_at',
          archivedNow('m', 'g').as('archived_now'),
          unreadCountOf('m', 'g').as('unread'),
          lastReadIdOf('m').as('last_read_id')
        ])
        .where('m.group_id', '=', groupBin)
        .where('m.user_id', '=', userId)
      if (forUpdate) query = query.forUpdate()
      return (await query.executeTakeFirst()) ?? null
    },

    async updatePreferences (groupBin: Buffer, userId: number, changes: PreferenceChanges, trx: Executor = db): Promise<void> {
      if (Object.keys(changes).length === 0) return
      await trx.updateTable('mirror_group_members').set(changes)
        .where('group_id', '=', groupBin).where('user_id', '=', userId)
        .execute()
    },

    /** Serializes one user's pin changes (the 10-pins rule) on their users row. */
    async lockUser (userId: number, trx: Transaction<Database>): Promise<void> {
      await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute()
    },

    async pinnedCount (userId: number, trx: Executor = db): Promise<number> {
      const row = await trx.selectFrom('mirror_group_members').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId).where('pinned', '=', true)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },

    /** The group's newest seq and the id of the message there (null before the first message). */
    async newest (groupBin: Buffer): Promise<{ last_seq: number, id: Buffer | null } | null> {
      const row = await db.selectFrom('mirror_groups as g')
        .leftJoin('mirror_group_messages as m', (join) => join.onRef('m.group_id', '=', 'g.id').onRef('m.seq', '=', 'g.last_seq'))
        .select(['g.last_seq', 'm.id'])
        .where('g.id', '=', groupBin)
        .executeTakeFirst()
      return row ?? null
    },

    /**
     * Clears the user's history up to `upToSeq` (never back); `hide` also takes a direct chat
     * out of their list until a newer message. Clearing ends a "mark as unread".
     */
    async clearForUser (groupBin: Buffer, userId: number, upToSeq: number, hide: boolean): Promise<void> {
      await db.updateTable('mirror_group_members')
        .set({
          cleared_seq: sql<number>`GREATEST(cleared_seq, ${upToSeq})`,
          marked_unread: false,
          ...(hide ? { hidden_seq: upToSeq } : {})
        })
        .where('group_id', '=', groupBin).where('user_id', '=', userId)
        .execute()
    },

    /**
     * Clears the group for every member up to `upToSeq`: the group's seq (members who join later
     * start there) and every member's watermark, in one transaction; pins of cleared messages go.
     */
    async clearForEveryone (groupBin: Buffer, upToSeq: number): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('mirror_groups').set({ cleared_seq: sql<number>`GREATEST(cleared_seq, ${upToSeq})` }).where('id', '=', groupBin).execute()
        await trx.updateTable('mirror_group_members')
          .set({ cleared_seq: sql<number>`GREATEST(cleared_seq, ${upToSeq})`, marked_unread: false })
          .where('group_id', '=', groupBin)
          .execute()
        await trx.deleteFrom('mirror_group_pinned_messages')
          .where('group_id', '=', groupBin)
          .where('message_id', 'in', (eb) => eb.selectFrom('mirror_group_messages').select('id').where('group_id', '=', groupBin).where('seq', '<=', upToSeq))
          .execute()
      })
    },

    async clearMarkedUnread (groupBin: Buffer, userId: number): Promise<void> {
      await db.updateTable('mirror_group_members').set({ marked_unread: false })
        .where('group_id', '=', groupBin).where('user_id', '=', userId)
        .execute()
    },

    async markUnread (groupBin: Buffer, userId: number): Promise<void> {
      await db.updateTable('mirror_group_members').set({ marked_unread: true })
        .where('group_id', '=', groupBin).where('user_id', '=', userId)
        .execute()
    },

    /**
     * Every chat of the user (deleted direct chats left out; muted ones too with `excludeMutedAt`)
     * with its unread count, read watermark message and newest visible message's time: one query.
     */
    async unreadCounts (userId: number, options: { excludeMutedAt?: Date, groupBin?: Buffer }): Promise<UnreadRow[]> {
      let query = db.selectFrom('mirror_group_members as mb')
        .innerJoin('mirror_groups as g', 'g.id', 'mb.group_id')
        .leftJoin('mirror_group_messages as lm', (join) => join
          .onRef('lm.group_id', '=', 'g.id')
          .onRef('lm.seq', '=', 'g.last_seq')
          .onRef('lm.seq', '>', 'mb.cleared_seq'))
        .select([
          'mb.group_id',
          unreadCountOf('mb', 'g').as('unread'),
          lastReadIdOf('mb').as('last_read_id'),
          'lm.created_at as last_at'
        ])
        .where('mb.user_id', '=', userId)
      if (options.groupBin !== undefined) {
        query = query.where('mb.group_id', '=', options.groupBin)
      } else {
        query = query.where(sql<boolean>`NOT ${hiddenNow('mb', 'g')}`)
      }
      if (options.excludeMutedAt !== undefined) query = query.where(sql<boolean>`NOT ${mutedAt('mb', options.excludeMutedAt)}`)
      return await query.execute()
    },

    /** Which of these groups the user is a member of (binary ids). */
    async memberGroupsAmong (userId: number, groupBins: Buffer[]): Promise<Buffer[]> {
      if (groupBins.length === 0) return []
      const rows = await db.selectFrom('mirror_group_members').select('group_id')
        .where('user_id', '=', userId).where('group_id', 'in', groupBins)
        .execute()
      return rows.map((r) => r.group_id)
    },

    async memberIds (groupBin: Buffer): Promise<number[]> {
      const rows = await db.selectFrom('mirror_group_members').select('user_id').where('group_id', '=', groupBin).execute()
      return rows.map((r) => r.user_id)
    }
  }
}

export type ChatManagementRepository = ReturnType<typeof chatManagementRepository>
