import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up (db: Kysely<any>): Promise<void> {
  // Per-group data keys (DESIGN §6), each wrapped by ENCRYPTION_MASTER_KEY; a new version per
  // rotation, old versions kept so older records still decrypt. No foreign key to mirror_groups:
  // a key may be created lazily by a transaction that has not committed its group row yet, and
  // deleting a group's keys is a separate, deliberate step (crypto-shredding).
  await db.schema.createTable('group_data_keys')
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('version', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('wrapped_key', sql`VARBINARY(255)`, (c) => c.notNull())
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addPrimaryKeyConstraint('group_data_keys_pk', ['group_id', 'version'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('group_data_keys').ifExists().execute()
}
