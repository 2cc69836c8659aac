import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
// Migrations take Kysely<any> because they describe the schema at their own point in time.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * System administrators, message reports (seed 04) and the end-to-end key directory (seed 05 §6).
 *
 * Reports keep no foreign key to their message or group: they are the moderation record and
 * outlive a deleted group. "One open report per reporter and message" is a unique key over a
 * generated column that is 1 while the report is pending and NULL after (NULLs never collide),
 * so two racing reports cannot both be stored and a resolved one does not block a new report.
 *
 * The key change log is append-only: the keys repository has no update or delete for it.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('system_admins')
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('granted_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()

  await db.schema.createTable('message_reports')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('message_id', sql`BINARY(16)`, (c) => c.notNull())
    .addColumn('reported_user_id', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('reporter_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('reason', sql`ENUM('spam','harassment','inappropriate','other')`, (c) => c.notNull())
    // The reporter's words may quote the message: sealed under the group's key like the message.
    .addColumn('details', 'blob')
    .addColumn('details_key_version', sql`INT UNSIGNED`)
    .addColumn('status', sql`ENUM('pending','reviewed','dismissed')`, (c) => c.notNull().defaultTo('pending'))
    .addColumn('open_flag', sql`TINYINT`, (c) => c.generatedAlwaysAs(sql`IF(status = 'pending', 1, NULL)`).stored())
    .addColumn('action', sql`ENUM('none','delete_message','remove_sender')`)
    .addColumn('review_notes', 'varchar(2000)')
    .addColumn('reviewed_by', sql`INT UNSIGNED`, (c) => c.references('users.id').onDelete('set null'))
    .addColumn('reviewed_at', sql`DATETIME(3)`)
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()
  await db.schema.createIndex('message_reports_open').unique().on('message_reports').columns(['message_id', 'reporter_id', 'open_flag']).execute()
  // The administrators' queue: by status, newest first (ids are UUIDv7, ordered by time).
  await db.schema.createIndex('message_reports_status').on('message_reports').columns(['status', 'id']).execute()

  await db.schema.createTable('user_device_keys')
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('key_id', sql`VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin`, (c) => c.notNull())
    .addColumn('device_id', sql`VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin`, (c) => c.notNull())
    .addColumn('key_type', sql`ENUM('x25519','ed25519','ec-p256','ec-p384','ec-p521','rsa')`, (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', sql`CHAR(64) CHARACTER SET ascii`, (c) => c.notNull())
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('revoked_at', sql`DATETIME(3)`)
    .addPrimaryKeyConstraint('user_device_keys_pk', ['user_id', 'key_id'])
    .execute()
  await db.schema.createIndex('user_device_keys_device').on('user_device_keys').columns(['user_id', 'device_id', 'revoked_at']).execute()

  await db.schema.createTable('user_key_verifications')
    .addColumn('verifier_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('key_id', sql`VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin`, (c) => c.notNull())
    .addColumn('fingerprint', sql`CHAR(64) CHARACTER SET ascii`, (c) => c.notNull())
    .addColumn('verified_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addPrimaryKeyConstraint('user_key_verifications_pk', ['verifier_id', 'user_id', 'key_id'])
    .addForeignKeyConstraint('user_key_verifications_key', ['user_id', 'key_id'], 'user_device_keys', ['user_id', 'key_id'], (c) => c.onDelete('cascade'))
    .execute()

  await db.schema.createTable('user_key_changes')
    .addColumn('id', sql`BIGINT UNSIGNED`, (c) => c.autoIncrement().primaryKey())
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('device_id', sql`VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin`, (c) => c.notNull())
    .addColumn('key_id', sql`VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin`, (c) => c.notNull())
    .addColumn('kind', sql`ENUM('added','replaced','revoked')`, (c) => c.notNull())
    .addColumn('fingerprint', sql`CHAR(64) CHARACTER SET ascii`, (c) => c.notNull())
    .addColumn('previous_key_id', sql`VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin`)
    .addColumn('changed_at', sql`DATETIME(3)`, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('user_key_changes_user').on('user_key_changes').columns(['user_id', 'id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['user_key_changes', 'user_key_verifications', 'user_device_keys', 'message_reports', 'system_admins']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
