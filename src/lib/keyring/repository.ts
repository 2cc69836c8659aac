import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../../../db/database.ts'

export interface KeyRow {
  version: number
  wrapped_key: Buffer
}

type Executor = Kysely<Database> | Transaction<Database>

/** Every query of the keyring: group_data_keys only. */
export function groupKeyRepository (db: Kysely<Database>) {
  return {
    async findNewest (groupBin: Buffer, trx: Executor = db): Promise<KeyRow | null> {
      const row = await trx.selectFrom('group_data_keys')
        .select(['version', 'wrapped_key'])
        .where('group_id', '=', groupBin)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst()
      return row ?? null
    },

    async findVersion (groupBin: Buffer, version: number, trx: Executor = db): Promise<KeyRow | null> {
      const row = await trx.selectFrom('group_data_keys')
        .select(['version', 'wrapped_key'])
        .where('group_id', '=', groupBin)
        .where('version', '=', version)
        .executeTakeFirst()
      return row ?? null
    },

    /** Inserts a version unless it exists already; true when this call inserted it. */
    async insertIfAbsent (groupBin: Buffer, version: number, wrappedKey: Buffer, trx: Executor = db): Promise<boolean> {
      const result = await trx.insertInto('group_data_keys')
        .orIgnore()
        .values({ group_id: groupBin, version, wrapped_key: wrappedKey, created_at: new Date() })
        .executeTakeFirst()
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n
    },

    async listGroupIds (trx: Executor = db): Promise<Buffer[]> {
      const rows = await trx.selectFrom('group_data_keys').select('group_id').distinct().execute()
      return rows.map((r) => r.group_id)
    },

    async deleteGroup (groupBin: Buffer, trx: Executor = db): Promise<number> {
      const result = await trx.deleteFrom('group_data_keys').where('group_id', '=', groupBin).executeTakeFirst()
      return Number(result.numDeletedRows)
    }
  }
}

export type GroupKeyRepository = ReturnType<typeof groupKeyRepository>
