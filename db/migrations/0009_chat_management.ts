import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * Chat management (DESIGN §4, seed 05 §§1–5): per-user chat state beside the watermarks of
 * mirror_group_members, and two group-level settings. Nothing here is written on the send path:
 * "archived" and "hidden" are derived at read time from seqs the user's own actions store.
 *
 * - notification_level, show_previews: the user's preferences (muted_until exists already).
 * - archived_seq: the group's last_seq when the user archived (or last changed a preference of
 *   an archived chat). A message above it unarchives the chat unless it came while muted.
 * - marked_unread: "mark as unread": the chat counts at least one unread until read.
 * - hidden_seq: a deleted direct chat is hidden while the group's last_seq stays ≤ it.
 * - mirror_groups.cleared_seq: cleared for everyone up to here; members who join later start
 *   with their own cleared_seq at it, so the messages never come back.
 * - mirror_groups.max_members: a per-group cap below the server's.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mirror_group_members')
    .addColumn('notification_level', sql`ENUM('all','mentions','none')`, (c) => c.notNull().defaultTo('all'))
    .addColumn('show_previews', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('archived_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('marked_unread', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('hidden_seq', sql`BIGINT UNSIGNED`)
    .execute()
  await db.schema.alterTable('mirror_groups')
    .addColumn('cleared_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('max_members', sql`INT UNSIGNED`)
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mirror_groups').dropColumn('cleared_seq').dropColumn('max_members').execute()
  await db.schema.alterTable('mirror_group_members')
    .dropColumn('notification_level').dropColumn('show_previews').dropColumn('archived_seq')
    .dropColumn('marked_unread').dropColumn('hidden_seq')
    .execute()
}
