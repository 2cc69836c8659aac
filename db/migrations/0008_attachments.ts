import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
// Migrations take Kysely<any> because they describe the schema at their own point in time.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * Attachments (seed 01 §3 mirror_group_chat_attachments, DESIGN §4): metadata only. The bytes
 * live encrypted in the attachment storage under `storage_key`; the file name is sealed under
 * the group's data key like message content, with its key version beside it.
 *
 * An upload is unattached (message_id NULL) until a send claims it, inside the send
 * transaction; unattached uploads older than a day are swept. `client_upload_id` makes an
 * upload idempotent per (group, uploader), as clientMessageId does for sends. Rows go with
 * their group (cascade); the group's files are removed after that commit.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('mirror_group_chat_attachments')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_groups.id').onDelete('cascade'))
    .addColumn('uploader_user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_upload_id', sql`VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    .addColumn('file_name', 'blob', (c) => c.notNull())
    .addColumn('file_name_key_version', sql`INT UNSIGNED`, (c) => c.notNull())
    .addColumn('mime_type', sql`VARCHAR(127) CHARACTER SET ascii`, (c) => c.notNull())
    .addColumn('file_size', sql`BIGINT UNSIGNED`, (c) => c.notNull())
    .addColumn('width', sql`INT UNSIGNED`)
    .addColumn('height', sql`INT UNSIGNED`)
    // The thumbnail's size in bytes (it is stored beside the file, sealed alike); NULL: none.
    .addColumn('thumbnail_size', sql`INT UNSIGNED`)
    .addColumn('storage_key', sql`VARCHAR(255) CHARACTER SET ascii`, (c) => c.notNull())
    .addColumn('message_id', sql`BINARY(16)`)
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()
  await db.schema.createIndex('attachments_upload_id').unique().on('mirror_group_chat_attachments')
    .columns(['group_id', 'uploader_user_id', 'client_upload_id']).execute()
  await db.schema.createIndex('attachments_message').on('mirror_group_chat_attachments').columns(['message_id']).execute()
  // The sweep: unattached uploads by age.
  await db.schema.createIndex('attachments_unattached').on('mirror_group_chat_attachments').columns(['message_id', 'created_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mirror_group_chat_attachments').execute()
}
