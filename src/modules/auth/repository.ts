import type { Kysely } from 'kysely'
import type { Database, UserRow } from '../../../db/database.ts'

/** The user columns auth needs: the public profile and the password hash. */
export type AuthUserRow = Pick<UserRow, 'id' | 'email' | 'username' | 'display_name' | 'avatar_url' | 'password_hash'>

export interface NewAccount {
  email: string
  username: string
  displayName: string | null
  passwordHash: string
}

export interface NewSession {
  id: Buffer
  userId: number
  refreshHash: Buffer
  expiresAt: Date
}

export interface SessionState {
  userId: number
  expiresAt: Date
  revokedAt: Date | null
}

const USER_COLUMNS = ['id', 'email', 'username', 'display_name', 'avatar_url', 'password_hash'] as const

/** Every query of the auth area. Methods take an optional transaction; a missing row is null. */
export function createAuthRepository (db: Kysely<Database>) {
  return {
    /** Inserts the user and returns its id; a taken email or username raises ER_DUP_ENTRY. */
    async insertUser (account: NewAccount, trx: Kysely<Database> = db): Promise<number> {
      const result = await trx.insertInto('users').values({
        email: account.email,
        username: account.username,
        display_name: account.displayName,
        password_hash: account.passwordHash
      }).executeTakeFirstOrThrow()
      return Number(result.insertId)
    },

    async findUserById (id: number, trx: Kysely<Database> = db): Promise<AuthUserRow | null> {
      const row = await trx.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst()
      return row ?? null
    },

    /** `email` lowercased: emails are stored lowercased. */
    async findUserByEmail (email: string, trx: Kysely<Database> = db): Promise<AuthUserRow | null> {
      const row = await trx.selectFrom('users').select(USER_COLUMNS).where('email', '=', email).executeTakeFirst()
      return row ?? null
    },

    /** Usernames compare case-insensitively (the column's collation), as their unique key does. */
    async findUserByUsername (username: string, trx: Kysely<Database> = db): Promise<AuthUserRow | null> {
      const row = await trx.selectFrom('users').select(USER_COLUMNS).where('username', '=', username).executeTakeFirst()
      return row ?? null
    },

    async insertSession (session: NewSession, trx: Kysely<Database> = db): Promise<void> {
      await trx.insertInto('auth_sessions').values({
        id: session.id,
        user_id: session.userId,
        refresh_hash: session.refreshHash,
        expires_at: session.expiresAt
      }).execute()
    },

    /**
     * Swaps the session's refresh hash from `currentHash` to `nextHash` if the session is live
     * and `currentHash` is still its hash. One conditional UPDATE, so of two requests racing
     * with the same refresh token exactly one wins. False when nothing matched.
     */
    async rotateRefreshHash (sessionId: Buffer, currentHash: Buffer, nextHash: Buffer, now: Date, expiresAt: Date, trx: Kysely<Database> = db): Promise<boolean> {
      const result = await trx.updateTable('auth_sessions')
        .set({ refresh_hash: nextHash, refreshed_at: now, expires_at: expiresAt })
        .where('id', '=', sessionId)
        .where('refresh_hash', '=', currentHash)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst()
      return result.numUpdatedRows === 1n
    },

    async findSession (sessionId: Buffer, trx: Kysely<Database> = db): Promise<SessionState | null> {
      const row = await trx.selectFrom('auth_sessions')
        .select(['user_id', 'expires_at', 'revoked_at'])
        .where('id', '=', sessionId)
        .executeTakeFirst()
      return row === undefined ? null : { userId: row.user_id, expiresAt: row.expires_at, revokedAt: row.revoked_at }
    },

    async setPasswordHash (userId: number, passwordHash: string, trx: Kysely<Database> = db): Promise<void> {
      await trx.updateTable('users').set({ password_hash: passwordHash, updated_at: new Date() }).where('id', '=', userId).execute()
    },

    /** Revokes every live session of the user but `keep`; returns the revoked sessions' ids. */
    async revokeOtherSessions (userId: number, keep: Buffer, reason: string, now: Date, trx: Kysely<Database>): Promise<Buffer[]> {
      const rows = await trx.selectFrom('auth_sessions').select('id')
        .where('user_id', '=', userId).where('id', '<>', keep)
        .where('revoked_at', 'is', null).where('expires_at', '>', now)
        .forUpdate()
        .execute()
      const ids = rows.map((r) => r.id)
      if (ids.length > 0) {
        await trx.updateTable('auth_sessions').set({ revoked_at: now, revoked_reason: reason })
          .where('id', 'in', ids).where('revoked_at', 'is', null)
          .execute()
      }
      return ids
    },

    /** Marks the session revoked (once: a second revocation keeps the first reason). */
    async revokeSession (sessionId: Buffer, reason: string, now: Date, trx: Kysely<Database> = db): Promise<boolean> {
      const result = await trx.updateTable('auth_sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('id', '=', sessionId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    /** The users of the sessions (by hex id) that are neither revoked nor expired at `now`; others are missing. One query for many. */
    async activeSessionUserIds (sessionIds: Buffer[], now: Date): Promise<Map<string, number>> {
      if (sessionIds.length === 0) return new Map()
      const rows = await db.selectFrom('auth_sessions').select(['id', 'user_id'])
        .where('id', 'in', sessionIds).where('revoked_at', 'is', null).where('expires_at', '>', now)
        .execute()
      return new Map(rows.map((row) => [row.id.toString('hex'), row.user_id]))
    },

    /** The name and email the service uses for a user (an external token's `id` names the row). */
    async identity (userId: number): Promise<{ username: string, email: string } | null> {
      return await db.selectFrom('users').select(['username', 'email']).where('id', '=', userId).executeTakeFirst() ?? null
    }
  }
}

export type AuthRepository = ReturnType<typeof createAuthRepository>
