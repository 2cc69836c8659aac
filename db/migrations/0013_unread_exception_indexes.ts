import type { Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * Unread counts by seq arithmetic (issue 16.5): a member's unread count is the number of seqs
 * after their watermark minus the exceptions, and each exception is counted in one of these
 * indexes, whose entries for the group and user are the exception rows only (never the unread
 * messages of others):
 * - (group, sender, seq): the member's own messages after the watermark;
 * - (group, is_deleted, seq, sender): deleted messages after the watermark, with the sender in
 *   the index so "not the member's own" is read without touching the row.
 * Both cost one more index entry per stored message; what they save is a walk over every
 * unread message of every chat on each chat list, unread count and chat:sync.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('mirror_group_messages_sender_seq').on('mirror_group_messages')
    .columns(['group_id', 'sender_user_id', 'seq']).execute()
  await db.schema.createIndex('mirror_group_messages_deleted_seq').on('mirror_group_messages')
    .columns(['group_id', 'is_deleted', 'seq', 'sender_user_id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('mirror_group_messages_deleted_seq').on('mirror_group_messages').execute()
  await db.schema.dropIndex('mirror_group_messages_sender_seq').on('mirror_group_messages').execute()
}
