import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * A group's member count as a counter on its row (issue 16.4): a send's ack counts the members
 * it was queued for from it, so the cost of a send does not grow with the group. Kept in the
 * same transactions that add and remove member rows.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mirror_groups')
    .addColumn('member_count', sql`INT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .execute()
  await sql`UPDATE mirror_groups g SET member_count = (SELECT COUNT(*) FROM mirror_group_members m WHERE m.group_id = g.id)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mirror_groups').dropColumn('member_count').execute()
}
