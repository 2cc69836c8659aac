import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
// Migrations take Kysely<any> because they describe the schema at their own point in time.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * Notifications (DESIGN §4 "notifications", issue 12).
 *
 * - notification_jobs: the durable source. The send transaction writes one row per message
 *   that mentions someone or replies (never one per recipient), reactions and additions to a
 *   group write theirs; a worker claims rows (FOR UPDATE SKIP LOCKED), creates the
 *   notifications and deletes the job in one transaction, so nothing is lost after a crash and
 *   nothing is created twice.
 * - notifications: one row per recipient; no content (the message stays sealed in its table).
 * - notification_preferences: per user and type, on when there is no row.
 * - push_webhook_outbox: PUSH_WEBHOOK_URL deliveries for offline recipients, written in the
 *   notification's transaction; delivered rows are deleted, dead letters stay with status 'dead'.
 *
 * The per-chat preferences it honours (notification_level, show_previews, muted_until on
 * mirror_group_members) come from 0009_chat_management.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('notification_jobs')
    .addColumn('id', sql`BIGINT UNSIGNED`, (c) => c.primaryKey().autoIncrement())
    .addColumn('kind', sql`ENUM('message','reaction','added_to_group')`, (c) => c.notNull())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('message_id', sql`BINARY(16)`)
    .addColumn('actor_user_id', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('target_user_id', sql`INT UNSIGNED`)
    .addColumn('emoji', 'varchar(64)')
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()

  await db.schema.createTable('notifications')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', sql`ENUM('mention','reply','reaction','added_to_group')`, (c) => c.notNull())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_groups.id').onDelete('cascade'))
    .addColumn('message_id', sql`BINARY(16)`)
    .addColumn('actor_user_id', sql`INT UNSIGNED`, (c) => c.references('users.id').onDelete('set null'))
    .addColumn('mention_type', sql`ENUM('user','everyone')`)
    .addColumn('emoji', 'varchar(64)')
    .addColumn('read_at', sql`DATETIME(3)`)
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()
  // Newest first per user (ids are UUIDv7); the unread filter and count read the second.
  await db.schema.createIndex('notifications_user').on('notifications').columns(['user_id', 'id']).execute()
  await db.schema.createIndex('notifications_user_unread').on('notifications').columns(['user_id', 'read_at', 'id']).execute()

  await db.schema.createTable('notification_preferences')
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('mention', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('reply', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('reaction', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('added_to_group', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('updated_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()

  await db.schema.createTable('push_webhook_outbox')
    .addColumn('id', sql`BIGINT UNSIGNED`, (c) => c.primaryKey().autoIncrement())
    .addColumn('event_id', sql`BINARY(16)`, (c) => c.notNull().unique())
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('payload', 'text', (c) => c.notNull())
    // Set when the recipient allowed previews and content broadcast is on: the preview is
    // decrypted at delivery, never stored in plaintext.
    .addColumn('preview_group_id', sql`BINARY(16)`)
    .addColumn('preview_message_id', sql`BINARY(16)`)
    .addColumn('status', sql`ENUM('pending','dead')`, (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', sql`INT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addColumn('locked_by', sql`CHAR(36) CHARACTER SET ascii`)
    .addColumn('locked_until', sql`DATETIME(3)`)
    .addColumn('last_error', 'varchar(255)')
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addColumn('dead_at', sql`DATETIME(3)`)
    .execute()
  await db.schema.createIndex('push_webhook_outbox_due').on('push_webhook_outbox').columns(['status', 'next_attempt_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['push_webhook_outbox', 'notification_preferences', 'notifications', 'notification_jobs']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
