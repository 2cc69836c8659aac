import type { Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * A message's status is `delivered` once a member other than its sender has a delivered
 * watermark at or above it (seed 01 §6.1 MessageStatus). Every page of messages reads the two
 * highest delivered watermarks of its group; this index makes that two index entries instead
 * of a scan and sort of every member of a large group.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('mirror_group_members_delivered').on('mirror_group_members')
    .columns(['group_id', 'last_delivered_seq']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('mirror_group_members_delivered').on('mirror_group_members').execute()
}
