import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../../../db/database.ts'
import { toBin } from '../../lib/ids.ts'

/** Members shown by GET …/chat/presence; larger groups list their earliest members. */
export const PRESENCE_MEMBER_LIMIT = 1000

export interface MemberSeen {
  userId: number
  username: string
  lastSeenAt: Date | null
}

export type PresenceRepository = ReturnType<typeof presenceRepository>

/** Every query of the presence area. */
export function presenceRepository (db: Kysely<Database>) {
  return {
    /** The group's members with the username and the persisted last-seen time. */
    async membersOf (groupId: string, trx?: Transaction<Database>): Promise<MemberSeen[]> {
      const rows = await (trx ?? db)
        .selectFrom('mirror_group_members as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(['u.id', 'u.username', 'u.last_seen_at'])
        .where('m.group_id', '=', toBin(groupId))
        .orderBy('m.joined_at')
        .orderBy('m.user_id')
        .limit(PRESENCE_MEMBER_LIMIT)
        .execute()
      return rows.map((row) => ({ userId: row.id, username: row.username, lastSeenAt: row.last_seen_at }))
    },

    /**
     * The users among `userIds` who share a group with `viewerId` (the viewer too, when in a
     * group), with username and last-seen time: one join over the membership indexes.
     */
    async peersAmong (viewerId: number, userIds: number[]): Promise<MemberSeen[]> {
      if (userIds.length === 0) return []
      const rows = await db.selectFrom('mirror_group_members as mine')
        .innerJoin('mirror_group_members as peer', 'peer.group_id', 'mine.group_id')
        .innerJoin('users as u', 'u.id', 'peer.user_id')
        .select(['u.id', 'u.username', 'u.last_seen_at']).distinct()
        .where('mine.user_id', '=', viewerId)
        .where('peer.user_id', 'in', userIds)
        .orderBy('u.id')
        .execute()
      return rows.map((row) => ({ userId: row.id, username: row.username, lastSeenAt: row.last_seen_at }))
    },

    /** Persists when the user was last seen (their last connection closed, plus the grace). */
    async touchLastSeen (userId: number, at: Date, trx?: Transaction<Database>): Promise<void> {
      await (trx ?? db).updateTable('users').set({ last_seen_at: at }).where('id', '=', userId).execute()
    }
  }
}
