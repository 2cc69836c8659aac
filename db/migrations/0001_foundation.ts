import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go in a new migration.
// Migrations take Kysely<any> because they describe the schema at their own point in time.
/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('users')
    .addColumn('id', sql`INT UNSIGNED`, (c) => c.autoIncrement().primaryKey())
    .addColumn('email', 'varchar(254)', (c) => c.notNull().unique())
    .addColumn('username', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(64)')
    .addColumn('avatar_url', 'varchar(2048)')
    .addColumn('password_hash', 'varchar(255)')
    .addColumn('last_seen_at', sql`DATETIME(3)`)
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('updated_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()

  await db.schema.createTable('auth_sessions')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('refresh_hash', sql`BINARY(32)`, (c) => c.notNull())
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('refreshed_at', sql`DATETIME(3)`)
    .addColumn('expires_at', sql`DATETIME(3)`, (c) => c.notNull())
    .addColumn('revoked_at', sql`DATETIME(3)`)
    .addColumn('revoked_reason', 'varchar(32)')
    .execute()
  await db.schema.createIndex('auth_sessions_user').on('auth_sessions').column('user_id').execute()

  await db.schema.createTable('user_blocks')
    .addColumn('blocker_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('blocked_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addPrimaryKeyConstraint('user_blocks_pk', ['blocker_id', 'blocked_id'])
    .execute()
  await db.schema.createIndex('user_blocks_blocked').on('user_blocks').column('blocked_id').execute()

  await db.schema.createTable('mirror_groups')
    .addColumn('id', sql`BINARY(16)`, (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(1000)')
    .addColumn('type', sql`ENUM('direct','group','public','broadcast')`, (c) => c.notNull())
    .addColumn('avatar_url', 'varchar(2048)')
    .addColumn('created_by', sql`INT UNSIGNED`, (c) => c.references('users.id').onDelete('set null'))
    // "minUserId:maxUserId" for direct chats: the unique key makes create-or-get race-free.
    .addColumn('direct_key', 'varchar(24)', (c) => c.unique())
    // The group's message counter: the row lock taken to bump it orders concurrent sends.
    .addColumn('last_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('last_activity_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('created_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('updated_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .execute()
  await db.schema.createIndex('mirror_groups_type').on('mirror_groups').columns(['type', 'created_at']).execute()

  // One row per (group, user): the membership, the user's chat-list state and the read,
  // delivery and clear watermarks (DESIGN §6: watermarks, not rows per reader).
  await db.schema.createTable('mirror_group_members')
    .addColumn('group_id', sql`BINARY(16)`, (c) => c.notNull().references('mirror_groups.id').onDelete('cascade'))
    .addColumn('user_id', sql`INT UNSIGNED`, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', sql`ENUM('owner','admin','member')`, (c) => c.notNull())
    .addColumn('joined_at', sql`DATETIME(3)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(3)`))
    .addColumn('last_read_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('last_read_at', sql`DATETIME(3)`)
    .addColumn('last_delivered_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('cleared_seq', sql`BIGINT UNSIGNED`, (c) => c.notNull().defaultTo(0))
    .addColumn('archived', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('pinned', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('muted_until', sql`DATETIME(3)`)
    .addPrimaryKeyConstraint('mirror_group_members_pk', ['group_id', 'user_id'])
    .execute()
  await db.schema.createIndex('mirror_group_members_user').on('mirror_group_members').columns(['user_id', 'group_id']).execute()
  await db.schema.createIndex('mirror_group_members_role').on('mirror_group_members').columns(['group_id', 'role', 'joined_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['mirror_group_members', 'mirror_groups', 'user_blocks', 'auth_sessions', 'users']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
