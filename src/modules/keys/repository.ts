import type { Insertable, Kysely, Selectable, Transaction } from 'kysely'
import type { Database, UserDeviceKeysTable, UserKeyChangesTable } from '../../../db/database.ts'

type Executor = Kysely<Database> | Transaction<Database>

export type DeviceKeyRow = Selectable<UserDeviceKeysTable>
export type KeyChangeRow = Selectable<UserKeyChangesTable>
export type NewKeyChange = Omit<Insertable<UserKeyChangesTable>, 'id'>

/** A key with the viewer's verification of it (null when they have not verified this key). */
export type KeyWithVerification = DeviceKeyRow & { verified_at: Date | null }

/**
 * Every query of the key directory. The change log has exactly two operations, append and
 * read: nothing here updates or deletes a change, so the log is never rewritten.
 */
export function keyRepository (db: Kysely<Database>) {
  return {
    /**
     * Locks the owner's user row for the transaction: one key change per user at a time, so a
     * device never ends up with two active keys and the log's order is the changes' order.
     * False when the user does not exist.
     */
    async lockOwner (userId: number, trx: Transaction<Database>): Promise<boolean> {
      const row = await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirst()
      return row !== undefined
    },

    async userExists (userId: number): Promise<boolean> {
      const row = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
      return row !== undefined
    },

    async findKey (userId: number, keyId: string, trx: Executor = db): Promise<DeviceKeyRow | null> {
      return await trx.selectFrom('user_device_keys').selectAll()
        .where('user_id', '=', userId).where('key_id', '=', keyId)
        .executeTakeFirst() ?? null
    },

    async activeKeyOfDevice (userId: number, deviceId: string, trx: Executor): Promise<DeviceKeyRow | null> {
      return await trx.selectFrom('user_device_keys').selectAll()
        .where('user_id', '=', userId).where('device_id', '=', deviceId).where('revoked_at', 'is', null)
        .executeTakeFirst() ?? null
    },

    async insertKey (key: Insertable<UserDeviceKeysTable>, trx: Executor): Promise<void> {
      await trx.insertInto('user_device_keys').values(key).execute()
    },

    /** Marks a key inactive (replaced or revoked); false when it was inactive already. */
    async deactivate (userId: number, keyId: string, at: Date, trx: Executor): Promise<boolean> {
      const result = await trx.updateTable('user_device_keys').set({ revoked_at: at })
        .where('user_id', '=', userId).where('key_id', '=', keyId).where('revoked_at', 'is', null)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    /** The owner's active keys, oldest first, each with the viewer's verification if it matches the key. */
    async activeKeys (ownerId: number, viewerId: number): Promise<KeyWithVerification[]> {
      return await db.selectFrom('user_device_keys as k')
        .leftJoin('user_key_verifications as v', (join) => join
          .onRef('v.user_id', '=', 'k.user_id').onRef('v.key_id', '=', 'k.key_id')
          .onRef('v.fingerprint', '=', 'k.fingerprint').on('v.verifier_id', '=', viewerId))
        .selectAll('k')
        .select('v.verified_at')
        .where('k.user_id', '=', ownerId).where('k.revoked_at', 'is', null)
        .orderBy('k.created_at').orderBy('k.key_id')
        .execute()
    },

    /** Records (or refreshes) the viewer's verification of a key's fingerprint. */
    async recordVerification (verifierId: number, key: DeviceKeyRow, at: Date): Promise<void> {
      await db.insertInto('user_key_verifications')
        .values({ verifier_id: verifierId, user_id: key.user_id, key_id: key.key_id, fingerprint: key.fingerprint, verified_at: at })
        .onDuplicateKeyUpdate({ fingerprint: key.fingerprint, verified_at: at })
        .execute()
    },

    /** Appends to the owner's change log, in the transaction of the change. */
    async appendChange (change: NewKeyChange, trx: Executor): Promise<void> {
      await trx.insertInto('user_key_changes').values(change).execute()
    },

    /** The owner's changes after `afterId`, oldest first, at most `limit`. */
    async changesOf (userId: number, afterId: number, limit: number): Promise<KeyChangeRow[]> {
      return await db.selectFrom('user_key_changes').selectAll()
        .where('user_id', '=', userId).where('id', '>', afterId)
        .orderBy('id').limit(limit)
        .execute()
    }
  }
}

export type KeyRepository = ReturnType<typeof keyRepository>
