import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * Issue 11 points 6–9. A message counts how often it was forwarded (seed 05 §2's
 * forwarded_count; where a forward came from travels sealed in its metadata, so no plaintext
 * column names the source). A block keeps the blocker's reason (seed 04), bounded.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mirror_group_messages')
    .addColumn('forwarded_count', sql`INT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .execute()
  await db.schema.alterTable('user_blocks')
    .addColumn('reason', 'varchar(500)')
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_blocks').dropColumn('reason').execute()
  await db.schema.alterTable('mirror_group_messages').dropColumn('forwarded_count').execute()
}
