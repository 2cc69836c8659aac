import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
// Migrations take Kysely<any> because they describe the schema at their own point in time.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * The messaging core (seed 01 §3, DESIGN §6). Of the seed's ten tables, reads and the offline
 * delivery queue are watermarks on mirror_group_members (last_read_seq, last_delivered_seq,
 * cleared_seq) instead of rows per reader; typing and presence live in Redis; preferences are
 * columns of mirror_group_members; attachments belong to their own area.
 *
 * Parent and thread-root references are indexed but carry no foreign key: a chain of replies
 * deeper than InnoDB's cascade limit (15) would make deleting a group fail, and messages are
 * only ever soft-deleted, so a reference cannot dangle while its group exists.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('mirror_group_messages')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_groups.id').onDelete('cascade'))
    // The group's total order: assigned from mirror_groups.last_seq in the inserting transaction.
    .addColumn('seq', sql`BIGINT UNSIGNED`, (c) => c.notNull())
    .addColumn('sender_user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    // AES-256-GCM (iv | tag | data) under the group's data key; never plaintext.
    .addColumn('content', 'blob', (c) => c.notNull())
    .addColumn('content_key_version', sql`INT UNSIGNED`, (c) => c.notNull())
    // NULL when the message has no metadata: nothing to seal on the common path.
    .addColumn('metadata', sql`MEDIUMBLOB`)
    .addColumn('metadata_key_version', sql`INT UNSIGNED`)
    .addColumn('content_type', sql`ENUM('text','image','file','audio','video','system','reply')`, (c) => c.notNull().defaultTo('text'))
    .addColumn('parent_message_id', sql`BINARY(16)`)
    .addColumn('thread_root_id', sql`BINARY(16)`)
    .addColumn('thread_reply_count', sql`INT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('status', sql`ENUM('sending','sent','delivered','failed')`, (c) => c.notNull().defaultTo('sent'))
    .addColumn('is_edited', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('edited_at', sql`DATETIME(3)`)
    // How many edits: the newest version in mirror_group_message_edits, and the optimistic lock of an edit.
    .addColumn('edit_count', sql`INT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('is_deleted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('deleted_at', sql`DATETIME(3)`)
    .addColumn('deleted_by', sql`INT UNSIGNED`)
    .addColumn('client_message_id', sql`VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('updated_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()
  // History pages, replay, unread counts and cursors: all ranges of seq within one group.
  await db.schema.createIndex('mirror_group_messages_seq').unique().on('mirror_group_messages').columns(['group_id', 'seq']).execute()
  // Idempotent sends: a retried clientMessageId hits this key instead of adding a row.
  await db.schema.createIndex('mirror_group_messages_client_id').unique().on('mirror_group_messages')
    .columns(['group_id', 'sender_user_id', 'client_message_id']).execute()
  await db.schema.createIndex('mirror_group_messages_thread').on('mirror_group_messages').columns(['group_id', 'thread_root_id', 'seq']).execute()
  await db.schema.createIndex('mirror_group_messages_sender').on('mirror_group_messages').columns(['sender_user_id', 'created_at']).execute()

  // Each replaced version of a message, sealed under field 'edit:<version>' (and 'edit-metadata:<version>').
  await db.schema.createTable('mirror_group_message_edits')
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_group_messages.id').onDelete('cascade'))
    .addColumn('version', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('content', 'blob', (c) => c.notNull())
    .addColumn('content_key_version', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('metadata', sql`MEDIUMBLOB`)
    .addColumn('metadata_key_version', sql`INT UNSIGNED`)
    // When this version was written (the message's creation or the previous edit) and replaced.
    .addColumn('written_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addColumn('replaced_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addColumn('replaced_by', sql`INT UNSIGNED`, (c) => c.notNull())
    .addPrimaryKeyConstraint('mirror_group_message_edits_pk', ['message_id', 'version'])
    .execute()

  await db.schema.createTable('mirror_group_message_reactions')
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_group_messages.id').onDelete('cascade'))
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    // Binary collation: distinct emoji (and variation selectors) stay distinct.
    .addColumn('emoji', sql`VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`, (c) => c.notNull())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addPrimaryKeyConstraint('mirror_group_message_reactions_pk', ['message_id', 'user_id', 'emoji'])
    .execute()
  await db.schema.createIndex('mirror_group_message_reactions_user').on('mirror_group_message_reactions').columns(['user_id', 'created_at']).execute()

  await db.schema.createTable('mirror_group_message_mentions')
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_group_messages.id').onDelete('cascade'))
    .addColumn('mentioned_user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('mention_type', sql`ENUM('user','everyone')`, (c) => c.notNull())
    // Set by the notifications area once the mention reached the user.
    .addColumn('notified', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addPrimaryKeyConstraint('mirror_group_message_mentions_pk', ['message_id', 'mentioned_user_id'])
    .execute()
  await db.schema.createIndex('mirror_group_message_mentions_user').on('mirror_group_message_mentions')
    .columns(['mentioned_user_id', 'notified', 'created_at']).execute()

  await db.schema.createTable('mirror_group_pinned_messages')
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.primaryKey().references('mirror_group_messages.id').onDelete('cascade'))
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('pinned_by_user_id', sql`INT UNSIGNED`, (c) => c.references('users.id').onDelete('set null'))
    .addColumn('pin_order', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('pin_note', sql`VARCHAR(255)`)
    .addColumn('pinned_at', sql`DATETIME(3)`, (c) => c.notNull())
    .execute()
  // Unique, so two concurrent pins cannot take the same place: the loser retries with the next.
  await db.schema.createIndex('mirror_group_pinned_messages_order').unique().on('mirror_group_pinned_messages').columns(['group_id', 'pin_order']).execute()

  // The blind index (DESIGN §6): keyed HMAC tokens of each live message's words. Searches look
  // up (group, token); edits and deletes replace or drop a message's tokens by message id.
  await db.schema.createTable('mirror_group_message_search_tokens')
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('token', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_group_messages.id').onDelete('cascade'))
    // Clustered by message: ids are UUIDv7, so a send appends its tokens at the end of the
    // tree instead of scattering them, and deleting a message's tokens is a range.
    .addPrimaryKeyConstraint('mirror_group_message_search_tokens_pk', ['message_id', 'token'])
    .execute()
  // The search path: a non-unique secondary index, whose random inserts InnoDB can buffer.
  await db.schema.createIndex('mirror_group_message_search_tokens_lookup').on('mirror_group_message_search_tokens').columns(['group_id', 'token']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of [
    'mirror_group_message_search_tokens',
    'mirror_group_pinned_messages',
    'mirror_group_message_mentions',
    'mirror_group_message_reactions',
    'mirror_group_message_edits',
    'mirror_group_messages'
  ]) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
