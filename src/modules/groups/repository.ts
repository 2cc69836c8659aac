import { sql, type Kysely } from 'kysely'
import type { Database, GroupType, MemberRole, NewGroup } from '../../../db/database.ts'
import { archivedNow, hiddenNow } from '../chat/chat-state-sql.ts'
import { membershipQueries } from '../membership/repository.ts'

/** Where a chat-list page starts: strictly after this (pinned, last_activity_at, id) position. */
export interface ChatListPosition {
  pinned: boolean
  activityAt: Date
  id: Buffer
}

export interface MemberState {
  role: MemberRole
  joined_at: Date
}

/** A group with the caller's membership and chat-list state, as one query returns it. */
function selectGroupViews (trx: Kysely<Database>, userId: number) {
  return trx.selectFrom('mirror_group_members as m')
    .innerJoin('mirror_groups as g', 'g.id', 'm.group_id')
    .select((eb) => [
      'g.id', 'g.name', 'g.description', 'g.type', 'g.avatar_url', 'g.created_by', 'g.direct_key',
      'g.last_seq', 'g.last_activity_at', 'g.created_at', 'g.updated_at', 'g.max_members',
      'm.role', 'm.pinned', 'm.muted_until', 'm.last_read_seq', 'm.cleared_seq', 'm.show_previews',
      archivedNow('m', 'g').as('archived_now'),
      eb.selectFrom('mirror_group_members as mc')
        .select((count) => count.fn.countAll<number>().as('n'))
        .whereRef('mc.group_id', '=', 'g.id')
        .as('member_count')
    ])
    .where('m.user_id', '=', userId)
}

export type GroupViewRow = Awaited<ReturnType<ReturnType<typeof selectGroupViews>['executeTakeFirstOrThrow']>>

/** A newcomer starts at the group's clear-for-everyone seq: cleared messages never come back. */
const groupClearedSeq = (trx: Kysely<Database>, groupBin: Buffer) =>
  trx.selectFrom('mirror_groups').select('cleared_seq').where('id', '=', groupBin)

export interface MemberWithUserRow {
  user_id: number
  role: MemberRole
  joined_at: Date
  id: number
  username: string
  display_name: string | null
  avatar_url: string | null
}

/** Moves the group's member counter with the member rows just added (+) or removed (−), in the same transaction. */
async function addToMemberCount (trx: Kysely<Database>, groupBin: Buffer, delta: number): Promise<void> {
  await trx.updateTable('mirror_groups')
    .set({ member_count: sql<number>`member_count + ${delta}` })
    .where('id', '=', groupBin)
    .execute()
}

/** Every query of the groups area. Methods take an optional transaction; a missing row is null. */
export function createGroupRepository (db: Kysely<Database>) {
  return {
    // Who is in which group: the membership module's queries, which this area's jobs use too.
    ...membershipQueries(db),

    /**
     * Locks the group row until the transaction ends. Every membership change takes this lock
     * first, so concurrent joins, leaves, removals and role changes apply one at a time and
     * each sees the others' result (the last member out deletes the group, exactly once).
     */
    async lockGroup (groupBin: Buffer, trx: Kysely<Database>): Promise<{ type: GroupType } | null> {
      const row = await trx.selectFrom('mirror_groups').select('type').where('id', '=', groupBin).forUpdate().executeTakeFirst()
      return row ?? null
    },

    async insertGroup (group: NewGroup, trx: Kysely<Database> = db): Promise<void> {
      await trx.insertInto('mirror_groups').values(group).execute()
    },

    async updateGroup (groupBin: Buffer, changes: { name?: string, description?: string | null, avatar_url?: string | null, updated_at: Date }, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('mirror_groups').set(changes).where('id', '=', groupBin).execute()
    },

    /**
     * Deletes the group; its member rows (and other areas' rows) go with it by ON DELETE CASCADE,
     * except what has no foreign key to it: the search index (one lock per token row on every
     * send otherwise), reports about its messages, and its data keys (crypto-shredding: its
     * sealed records can never be opened again).
     */
    async deleteGroup (groupBin: Buffer, trx: Kysely<Database> = db): Promise<void> {
      await trx.deleteFrom('mirror_group_message_search_tokens').where('group_id', '=', groupBin).execute()
      await trx.deleteFrom('message_reports').where('group_id', '=', groupBin).execute()
      await trx.deleteFrom('mirror_groups').where('id', '=', groupBin).execute()
      await trx.deleteFrom('group_data_keys').where('group_id', '=', groupBin).execute()
    },

    /** The group's own member cap (null: the server's). */
    async maxMembersOf (groupBin: Buffer, trx: Kysely<Database> = db): Promise<number | null> {
      const row = await trx.selectFrom('mirror_groups').select('max_members').where('id', '=', groupBin).executeTakeFirst()
      return row?.max_members ?? null
    },

    async setMaxMembers (groupBin: Buffer, maxMembers: number | null, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('mirror_groups').set({ max_members: maxMembers }).where('id', '=', groupBin).execute()
    },

    /** A deleted direct chat the user opens again is back in their list. */
    async unhide (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('mirror_group_members').set({ hidden_seq: null })
        .where('group_id', '=', groupBin).where('user_id', '=', userId).where('hidden_seq', 'is not', null)
        .execute()
    },

    async findDirectByKey (directKey: string, trx: Kysely<Database> = db): Promise<Buffer | null> {
      const row = await trx.selectFrom('mirror_groups').select('id').where('direct_key', '=', directKey).executeTakeFirst()
      return row?.id ?? null
    },

    async insertMembers (groupBin: Buffer, members: ReadonlyArray<{ userId: number, role: MemberRole }>, joinedAt: Date, trx: Kysely<Database> = db): Promise<void> {
      if (members.length === 0) return
      await trx.insertInto('mirror_group_members')
        .values(members.map((m) => ({ group_id: groupBin, user_id: m.userId, role: m.role, joined_at: joinedAt, cleared_seq: groupClearedSeq(trx, groupBin) })))
        .execute()
      await addToMemberCount(trx, groupBin, members.length)
    },

    /** Adds the member unless already there; true when a row was added. */
    async insertMemberIfAbsent (groupBin: Buffer, userId: number, role: MemberRole, trx: Kysely<Database> = db): Promise<boolean> {
      const result = await trx.insertInto('mirror_group_members').ignore()
        .values({ group_id: groupBin, user_id: userId, role, joined_at: new Date(), cleared_seq: groupClearedSeq(trx, groupBin) })
        .executeTakeFirst()
      const added = (result.numInsertedOrUpdatedRows ?? 0n) > 0n
      if (added) await addToMemberCount(trx, groupBin, 1)
      return added
    },

    async findMember (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<MemberState | null> {
      const row = await trx.selectFrom('mirror_group_members').select(['role', 'joined_at'])
        .where('group_id', '=', groupBin).where('user_id', '=', userId)
        .executeTakeFirst()
      return row ?? null
    },

    async findMemberWithUser (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<MemberWithUserRow | null> {
      const row = await trx.selectFrom('mirror_group_members as m')
        .innerJoin('users', 'users.id', 'm.user_id')
        .select(['m.user_id', 'm.role', 'm.joined_at', 'users.id', 'users.username', 'users.display_name', 'users.avatar_url'])
        .where('m.group_id', '=', groupBin).where('m.user_id', '=', userId)
        .executeTakeFirst()
      return row ?? null
    },

    /** Members in the order they joined. */
    async listMembers (groupBin: Buffer, trx: Kysely<Database> = db): Promise<MemberWithUserRow[]> {
      return await trx.selectFrom('mirror_group_members as m')
        .innerJoin('users', 'users.id', 'm.user_id')
        .select(['m.user_id', 'm.role', 'm.joined_at', 'users.id', 'users.username', 'users.display_name', 'users.avatar_url'])
        .where('m.group_id', '=', groupBin)
        .orderBy('m.joined_at').orderBy('m.user_id')
        .execute()
    },

    async countMembers (groupBin: Buffer, trx: Kysely<Database> = db): Promise<number> {
      const row = await trx.selectFrom('mirror_group_members')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('group_id', '=', groupBin)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },

    /** The ids among `userIds` that are already members. */
    async memberIdsAmong (groupBin: Buffer, userIds: readonly number[], trx: Kysely<Database> = db): Promise<number[]> {
      if (userIds.length === 0) return []
      const rows = await trx.selectFrom('mirror_group_members').select('user_id')
        .where('group_id', '=', groupBin).where('user_id', 'in', userIds)
        .execute()
      return rows.map((r) => r.user_id)
    },

    async deleteMember (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<void> {
      const result = await trx.deleteFrom('mirror_group_members').where('group_id', '=', groupBin).where('user_id', '=', userId).executeTakeFirst()
      if (result.numDeletedRows > 0n) await addToMemberCount(trx, groupBin, -1)
    },

    async setRole (groupBin: Buffer, userId: number, role: MemberRole, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('mirror_group_members').set({ role }).where('group_id', '=', groupBin).where('user_id', '=', userId).execute()
    },

    /**
     * Who inherits ownership: the longest-standing admin, else the longest-standing member
     * (joined_at, then user id). An ENUM sorts by its declaration order ('owner','admin',
     * 'member') on MySQL and MariaDB alike, so ordering by role puts admins first; the index
     * (group_id, role, joined_at) serves the query.
     */
    async nextOwner (groupBin: Buffer, trx: Kysely<Database> = db): Promise<number | null> {
      const row = await trx.selectFrom('mirror_group_members').select('user_id')
        .where('group_id', '=', groupBin).where('role', '!=', 'owner')
        .orderBy('role').orderBy('joined_at').orderBy('user_id')
        .limit(1)
        .executeTakeFirst()
      return row?.user_id ?? null
    },

    /** True when the two users are members of at least one common group. */
    async shareAGroup (userId: number, otherUserId: number): Promise<boolean> {
      const row = await db.selectFrom('mirror_group_members as a')
        .innerJoin('mirror_group_members as b', 'b.group_id', 'a.group_id')
        .select('a.group_id')
        .where('a.user_id', '=', userId).where('b.user_id', '=', otherUserId)
        .limit(1)
        .executeTakeFirst()
      return row !== undefined
    },

    /** Everyone who shares at least one group with the user, the user included if in any group. */
    async peersOf (userId: number): Promise<number[]> {
      const rows = await db.selectFrom('mirror_group_members as mine')
        .innerJoin('mirror_group_members as peer', 'peer.group_id', 'mine.group_id')
        .select('peer.user_id').distinct()
        .where('mine.user_id', '=', userId)
        .execute()
      return rows.map((r) => r.user_id)
    },

    /** One group as the user sees it; null when the group is gone or the user is not in it. */
    async findGroupView (groupBin: Buffer, userId: number, trx: Kysely<Database> = db): Promise<GroupViewRow | null> {
      const row = await selectGroupViews(trx, userId).where('g.id', '=', groupBin).executeTakeFirst()
      return row ?? null
    },

    /**
     * A page of the user's chat list: pinned chats first, then most recent activity first,
     * keyset-paginated on (pinned, last_activity_at, id) so pages neither skip nor repeat rows.
     * A deleted direct chat is left out until a newer message; `archived` is the archive as
     * it holds now (see chat-state-sql.ts).
     */
    async chatListPage (userId: number, archived: boolean, after: ChatListPosition | null, limit: number, trx: Kysely<Database> = db): Promise<GroupViewRow[]> {
      let query = selectGroupViews(trx, userId)
        .where(archived ? archivedNow('m', 'g') : sql<boolean>`NOT ${archivedNow('m', 'g')}`)
        .where(sql<boolean>`NOT ${hiddenNow('m', 'g')}`)
      if (after !== null) {
        const pinned = after.pinned ? 1 : 0
        query = query.where((eb) => eb.or([
          eb('m.pinned', '<', after.pinned),
          eb.and([eb(sql<number>`m.pinned`, '=', pinned), eb.or([
            eb('g.last_activity_at', '<', after.activityAt),
            eb.and([eb('g.last_activity_at', '=', after.activityAt), eb('g.id', '<', after.id)])
          ])])
        ]))
      }
      return await query.orderBy('m.pinned', 'desc').orderBy('g.last_activity_at', 'desc').orderBy('g.id', 'desc').limit(limit).execute()
    }
  }
}

export type GroupRepository = ReturnType<typeof createGroupRepository>
