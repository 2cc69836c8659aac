import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/** DATETIME(3) columns: written as Date, read as Date (the pool runs in UTC). */
type Timestamp = ColumnType<Date, Date | undefined, Date>
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>
/** UUIDs stored as BINARY(16). */
type Bin16 = Buffer
/** BIGINT UNSIGNED read as a number: seq values stay far below 2^53. */
type Seq = ColumnType<number, number | undefined, number>

export type GroupType = 'direct' | 'group' | 'public' | 'broadcast'
export type MemberRole = 'owner' | 'admin' | 'member'

export interface UsersTable {
  id: Generated<number>
  email: string
  username: string
  display_name: string | null
  avatar_url: string | null
  password_hash: string | null
  last_seen_at: NullableTimestamp
  created_at: Timestamp
  updated_at: Timestamp
}

export interface AuthSessionsTable {
  id: Bin16
  user_id: number
  refresh_hash: Buffer
  created_at: Timestamp
  refreshed_at: NullableTimestamp
  expires_at: Date
  revoked_at: NullableTimestamp
  revoked_reason: string | null
}

export interface UserBlocksTable {
  blocker_id: number
  blocked_id: number
  created_at: Timestamp
}

export interface GroupsTable {
  id: Bin16
  name: string
  description: string | null
  type: GroupType
  avatar_url: string | null
  created_by: number | null
  direct_key: string | null
  last_seq: Seq
  last_activity_at: Timestamp
  created_at: Timestamp
  updated_at: Timestamp
  /** Rows in mirror_group_members for the group, kept with them (migration 0012). */
  member_count: Generated<number>
}

export interface GroupMembersTable {
  group_id: Bin16
  user_id: number
  role: MemberRole
  joined_at: Timestamp
  last_read_seq: Seq
  last_read_at: NullableTimestamp
  last_delivered_seq: Seq
  cleared_seq: Seq
  archived: ColumnType<boolean, boolean | undefined, boolean>
  pinned: ColumnType<boolean, boolean | undefined, boolean>
  muted_until: NullableTimestamp
}

/** A group's data key of one version, wrapped (AES-256-GCM) by the master key. */
export interface GroupDataKeysTable {
  group_id: Bin16
  version: number
  wrapped_key: Buffer
  created_at: Timestamp
}

export type MessageContentTypeName = 'text' | 'image' | 'file' | 'audio' | 'video' | 'system' | 'reply'
export type MessageStatusName = 'sending' | 'sent' | 'delivered' | 'failed'

export interface MessagesTable {
  id: Bin16
  group_id: Bin16
  seq: number
  sender_user_id: number
  /** Sealed content (iv | tag | data). */
  content: Buffer
  content_key_version: number
  /** Sealed metadata JSON; null when the message has none. */
  metadata: Buffer | null
  metadata_key_version: number | null
  content_type: MessageContentTypeName
  parent_message_id: Bin16 | null
  thread_root_id: Bin16 | null
  thread_reply_count: ColumnType<number, number | undefined, number>
  status: ColumnType<MessageStatusName, MessageStatusName | undefined, MessageStatusName>
  is_edited: ColumnType<boolean, boolean | undefined, boolean>
  edited_at: NullableTimestamp
  edit_count: ColumnType<number, number | undefined, number>
  is_deleted: ColumnType<boolean, boolean | undefined, boolean>
  deleted_at: NullableTimestamp
  deleted_by: number | null
  client_message_id: string | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface MessageEditsTable {
  message_id: Bin16
  version: number
  content: Buffer
  content_key_version: number
  metadata: Buffer | null
  metadata_key_version: number | null
  written_at: Date
  replaced_at: Date
  replaced_by: number
}

export interface MessageReactionsTable {
  message_id: Bin16
  user_id: number
  emoji: string
  group_id: Bin16
  created_at: Timestamp
}

export interface MessageMentionsTable {
  message_id: Bin16
  mentioned_user_id: number
  group_id: Bin16
  mention_type: 'user' | 'everyone'
  notified: ColumnType<boolean, boolean | undefined, boolean>
  created_at: Timestamp
}

export interface PinnedMessagesTable {
  message_id: Bin16
  group_id: Bin16
  pinned_by_user_id: number | null
  pin_order: number
  pin_note: string | null
  pinned_at: Date
}

export interface MessageSearchTokensTable {
  group_id: Bin16
  token: Buffer
  message_id: Bin16
}

/** A system administrator granted with `npm run admin -- grant` (ADMIN_USER_IDS are the others). */
export interface SystemAdminsTable {
  user_id: number
  granted_at: Timestamp
}

export type ReportReasonName = 'spam' | 'harassment' | 'inappropriate' | 'other'
export type ReportStatusName = 'pending' | 'reviewed' | 'dismissed'
export type ModerationActionName = 'none' | 'delete_message' | 'remove_sender'

export interface MessageReportsTable {
  id: Bin16
  group_id: Bin16
  message_id: Bin16
  reported_user_id: number
  reporter_id: number
  reason: ReportReasonName
  /** Sealed under the group's key (field 'report-details'); null without details. */
  details: Buffer | null
  details_key_version: number | null
  status: ColumnType<ReportStatusName, ReportStatusName | undefined, ReportStatusName>
  /** Generated: 1 while pending, else NULL (the unique key of open reports). Never written. */
  open_flag: ColumnType<number | null, never, never>
  action: ModerationActionName | null
  review_notes: string | null
  reviewed_by: number | null
  reviewed_at: NullableTimestamp
  created_at: Timestamp
}

export type PublicKeyTypeName = 'x25519' | 'ed25519' | 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa'
export type KeyChangeKindName = 'added' | 'replaced' | 'revoked'

export interface UserDeviceKeysTable {
  user_id: number
  key_id: string
  device_id: string
  key_type: PublicKeyTypeName
  public_key: string
  fingerprint: string
  created_at: Timestamp
  revoked_at: NullableTimestamp
}

export interface UserKeyVerificationsTable {
  verifier_id: number
  user_id: number
  key_id: string
  fingerprint: string
  verified_at: Date
}

/** Append-only: rows are inserted, never updated or deleted (see the keys repository). */
export interface UserKeyChangesTable {
  id: Generated<number>
  user_id: number
  device_id: string
  key_id: string
  kind: KeyChangeKindName
  fingerprint: string
  previous_key_id: string | null
  changed_at: Date
}

export interface Database {
  users: UsersTable
  auth_sessions: AuthSessionsTable
  user_blocks: UserBlocksTable
  mirror_groups: GroupsTable
  mirror_group_members: GroupMembersTable
  mirror_group_messages: MessagesTable
  mirror_group_message_edits: MessageEditsTable
  mirror_group_message_reactions: MessageReactionsTable
  mirror_group_message_mentions: MessageMentionsTable
  mirror_group_pinned_messages: PinnedMessagesTable
  mirror_group_message_search_tokens: MessageSearchTokensTable
  group_data_keys: GroupDataKeysTable
  system_admins: SystemAdminsTable
  message_reports: MessageReportsTable
  user_device_keys: UserDeviceKeysTable
  user_key_verifications: UserKeyVerificationsTable
  user_key_changes: UserKeyChangesTable
}

export type UserRow = Selectable<UsersTable>
export type NewUser = Insertable<UsersTable>
export type UserUpdate = Updateable<UsersTable>
export type SessionRow = Selectable<AuthSessionsTable>
export type GroupRow = Selectable<GroupsTable>
export type NewGroup = Insertable<GroupsTable>
export type GroupUpdate = Updateable<GroupsTable>
export type MemberRow = Selectable<GroupMembersTable>
export type MessageRow = Selectable<MessagesTable>
export type NewMessage = Insertable<MessagesTable>
