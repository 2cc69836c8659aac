import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'

export interface GrantedAdminRow {
  user_id: number
  granted_at: Date
  username: string | null
  email: string | null
}

/**
 * The system administrators granted in the database (`npm run admin -- grant`). Usable without
 * Fastify: the admin script builds one over its own connection.
 */
export function adminRepository (db: Kysely<Database>) {
  return {
    /** Grants; false when the user was an administrator already. */
    async grant (userId: number): Promise<boolean> {
      const result = await db.insertInto('system_admins').ignore().values({ user_id: userId, granted_at: new Date() }).executeTakeFirst()
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0
    },

    /** Revokes; false when the user was not granted. */
    async revoke (userId: number): Promise<boolean> {
      const result = await db.deleteFrom('system_admins').where('user_id', '=', userId).executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    },

    async isGranted (userId: number): Promise<boolean> {
      const row = await db.selectFrom('system_admins').select('user_id').where('user_id', '=', userId).executeTakeFirst()
      return row !== undefined
    },

    /** Every granted administrator, oldest grant first. */
    async list (): Promise<GrantedAdminRow[]> {
      return await db.selectFrom('system_admins as a')
        .leftJoin('users as u', 'u.id', 'a.user_id')
        .select(['a.user_id', 'a.granted_at', 'u.username', 'u.email'])
        .orderBy('a.granted_at').orderBy('a.user_id')
        .execute()
    },

    async userExists (userId: number): Promise<boolean> {
      const row = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
      return row !== undefined
    }
  }
}

export type AdminRepository = ReturnType<typeof adminRepository>
