import type { Kysely } from 'kysely'
import type { Database, GroupType, MemberRole } from '../../../db/database.ts'

/** Who is in which group, read from the groups area's tables (the groups repository includes these). */
export function membershipQueries (db: Kysely<Database>) {
  return {
    /** The group's type and the user's role in it (null when not a member); null if no group. */
    async findAccess (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<{ type: GroupType, role: MemberRole | null } | null> {
      const row = await trx.selectFrom('mirror_groups as g')
        .leftJoin('mirror_group_members as m', (join) => join.onRef('m.group_id', '=', 'g.id').on('m.user_id', '=', userId))
        .select(['g.type', 'm.role'])
        .where('g.id', '=', groupBin)
        .executeTakeFirst()
      return row ?? null
    },

    /** The group's member count from its counter (one row read, whatever the group's size); null when there is no such group. */
    async memberCount (groupBin: Buffer, trx: Kysely<Database> = db): Promise<number | null> {
      const row = await trx.selectFrom('mirror_groups').select('member_count').where('id', '=', groupBin).executeTakeFirst()
      return row === undefined ? null : Number(row.member_count)
    },

    async memberUserIds (groupBin: Buffer, trx: Kysely<Database> = db): Promise<number[]> {
      const rows = await trx.selectFrom('mirror_group_members').select('user_id').where('group_id', '=', groupBin).execute()
      return rows.map((r) => r.user_id)
    },

    async groupIdsOf (userId: number, trx: Kysely<Database> = db): Promise<Buffer[]> {
      const rows = await trx.selectFrom('mirror_group_members').select('group_id').where('user_id', '=', userId).execute()
      return rows.map((r) => r.group_id)
    }
  }
}

export type MembershipQueries = ReturnType<typeof membershipQueries>
