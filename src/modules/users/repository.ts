import { sql, type Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'

/** The columns any API may show of another user: never the email or the password hash. */
const PROFILE_COLUMNS = ['users.id', 'users.username', 'users.display_name', 'users.avatar_url'] as const
/** The columns of the caller's own user: the profile and the email. */
const OWN_COLUMNS = [...PROFILE_COLUMNS, 'users.email'] as const

export interface UserProfileRow {
  id: number
  username: string
  display_name: string | null
  avatar_url: string | null
}

export interface PublicUserRow extends UserProfileRow {
  email: string
}

/** A user the blocker blocked, with the blocker's reason and when. */
export interface BlockedUserRow extends UserProfileRow {
  reason: string | null
  created_at: Date
}

export interface ProfileChanges {
  display_name?: string | null
  avatar_url?: string | null
}

/** `%`, `_` and the escape character itself match literally in a LIKE pattern escaped with `!`. */
export const escapeLike = (text: string): string => text.replace(/[!%_]/g, (c) => `!${c}`)

/** Every query of the users area. Methods take an optional transaction; a missing row is null. */
export function createUserRepository (db: Kysely<Database>) {
  return {
    async findById (id: number, trx: Kysely<Database> = db): Promise<UserProfileRow | null> {
      const row = await trx.selectFrom('users').select(PROFILE_COLUMNS).where('id', '=', id).executeTakeFirst()
      return row ?? null
    },

    /** The user with their email: for the user themselves only. */
    async findOwnById (id: number, trx: Kysely<Database> = db): Promise<PublicUserRow | null> {
      const row = await trx.selectFrom('users').select(OWN_COLUMNS).where('id', '=', id).executeTakeFirst()
      return row ?? null
    },

    /** The ids among `ids` that belong to an existing user. */
    async existingIds (ids: readonly number[], trx: Kysely<Database> = db): Promise<number[]> {
      if (ids.length === 0) return []
      const rows = await trx.selectFrom('users').select('id').where('id', 'in', ids).execute()
      return rows.map((r) => r.id)
    },

    async updateProfile (id: number, changes: ProfileChanges, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('users').set({ ...changes, updated_at: new Date() }).where('id', '=', id).execute()
    },

    /**
     * Users whose username starts with `prefix`, alphabetically. The column's collation
     * (utf8mb4_unicode_ci) makes the match case-insensitive, and a prefix LIKE uses the
     * unique index on username.
     */
    async searchByUsernamePrefix (prefix: string, limit: number, trx: Kysely<Database> = db): Promise<UserProfileRow[]> {
      const pattern = `${escapeLike(prefix)}%`
      // Kysely's `like` has no ESCAPE clause; an explicit escape character does not depend on
      // the server's NO_BACKSLASH_ESCAPES mode.
      return await trx.selectFrom('users').select(PROFILE_COLUMNS)
        .where(sql<boolean>`${sql.ref('users.username')} LIKE ${pattern} ESCAPE '!'`)
        .orderBy('users.username').orderBy('users.id')
        .limit(limit)
        .execute()
    },

    /**
     * Records the block; blocking twice is not an error. A reason given again replaces the
     * stored one; a block without one keeps it.
     */
    async block (blockerId: number, blockedId: number, reason: string | null, trx: Kysely<Database> = db): Promise<void> {
      await trx.insertInto('user_blocks')
        .values({ blocker_id: blockerId, blocked_id: blockedId, created_at: new Date(), reason })
        .onDuplicateKeyUpdate(reason === null ? { blocker_id: blockerId } : { reason })
        .execute()
    },

    async unblock (blockerId: number, blockedId: number, trx: Kysely<Database> = db): Promise<void> {
      await trx.deleteFrom('user_blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).execute()
    },

    /** The users `blockerId` has blocked, most recent first. */
    async blockedBy (blockerId: number, trx: Kysely<Database> = db): Promise<BlockedUserRow[]> {
      return await trx.selectFrom('user_blocks as b')
        .innerJoin('users', 'users.id', 'b.blocked_id')
        .select([...PROFILE_COLUMNS, 'b.reason', 'b.created_at'])
        .where('b.blocker_id', '=', blockerId)
        .orderBy('b.created_at', 'desc').orderBy('users.id')
        .execute()
    },

    /** The ids of the users `blockerId` has blocked. */
    async blockedIdsOf (blockerId: number, trx: Kysely<Database> = db): Promise<number[]> {
      const rows = await trx.selectFrom('user_blocks').select('blocked_id').where('blocker_id', '=', blockerId).execute()
      return rows.map((r) => r.blocked_id)
    },

    /** blockedIdsOf of several blockers in one query; a blocker with none is missing from the map. */
    async blockedIdsOfMany (blockerIds: number[]): Promise<Map<number, number[]>> {
      const blocked = new Map<number, number[]>()
      if (blockerIds.length === 0) return blocked
      const rows = await db.selectFrom('user_blocks').select(['blocker_id', 'blocked_id']).where('blocker_id', 'in', blockerIds).execute()
      for (const row of rows) {
        const ids = blocked.get(row.blocker_id)
        if (ids === undefined) blocked.set(row.blocker_id, [row.blocked_id])
        else ids.push(row.blocked_id)
      }
      return blocked
    },

    async isBlocked (blockerId: number, blockedId: number, trx: Kysely<Database> = db): Promise<boolean> {
      const row = await trx.selectFrom('user_blocks').select('blocker_id')
        .where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId)
        .executeTakeFirst()
      return row !== undefined
    },

    async eitherBlocked (a: number, b: number, trx: Kysely<Database> = db): Promise<boolean> {
      const row = await trx.selectFrom('user_blocks').select('blocker_id')
        .where((eb) => eb.or([
          eb.and([eb('blocker_id', '=', a), eb('blocked_id', '=', b)]),
          eb.and([eb('blocker_id', '=', b), eb('blocked_id', '=', a)])
        ]))
        .executeTakeFirst()
      return row !== undefined
    },

    /** The users among `candidateIds` who have blocked `userId`. */
    async blockersOf (userId: number, candidateIds: readonly number[], trx: Kysely<Database> = db): Promise<number[]> {
      if (candidateIds.length === 0) return []
      const rows = await trx.selectFrom('user_blocks').select('blocker_id')
        .where('blocked_id', '=', userId).where('blocker_id', 'in', candidateIds)
        .execute()
      return rows.map((r) => r.blocker_id)
    }
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
