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
  /** The blocker's own note (seed 04), at most 500 characters; null without one. */
  reason: ColumnType<string | null, string | null | undefined, string | null>
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
  /** Cleared for everyone up to this seq (0: never). */
  cleared_seq: Seq
  /** A cap below the server's MAX_GROUP_MEMBERS; null: the server's. */
  max_members: ColumnType<number | null, number | null | undefined, number | null>
  /** Rows in mirror_group_members for the group, kept with them (migration 0012). */
  member_count: Generated<number>
}

export type NotificationLevelName = 'all' | 'mentions' | 'none'

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
  notification_level: ColumnType<NotificationLevelName, NotificationLevelName | undefined, NotificationLevelName>
  show_previews: ColumnType<boolean, boolean | undefined, boolean>
  /** The group's last_seq when archived: a newer message unarchives unless it came while muted. */
  archived_seq: Seq
  /** Marked unread by hand: counts at least one unread until read. */
  marked_unread: ColumnType<boolean, boolean | undefined, boolean>
  /** A deleted direct chat: hidden while the group's last_seq is at most this. */
  hidden_seq: ColumnType<number | null, number | null | undefined, number | null>
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
  /** How many times members forwarded this message (successful forwards, each target once). */
  forwarded_count: ColumnType<number, number | undefined, number>
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

/** An uploaded file's metadata; its bytes are in the attachment storage under storage_key, encrypted. */
export interface AttachmentsTable {
  id: Bin16
  group_id: Bin16
  uploader_user_id: number
  client_upload_id: string | null
  /** Sealed under the group's data key (field 'file_name', record = the attachment id). */
  file_name: Buffer
  file_name_key_version: number
  mime_type: string
  file_size: ColumnType<number, number, number>
  width: number | null
  height: number | null
  /** Null when there is no thumbnail. */
  thumbnail_size: number | null
  storage_key: string
  /** Null until a send claims it. */
  message_id: Bin16 | null
  created_at: Timestamp
}

export type NotificationTypeName = 'mention' | 'reply' | 'reaction' | 'added_to_group'
export type NotificationJobKindName = 'message' | 'reaction' | 'added_to_group'

/** What happened that may notify someone; consumed (deleted) by the notification worker. */
export interface NotificationJobsTable {
  id: Generated<number>
  kind: NotificationJobKindName
  group_id: Bin16
  message_id: Bin16 | null
  actor_user_id: number
  target_user_id: number | null
  emoji: string | null
  created_at: Timestamp
}

export interface NotificationsTable {
  id: Bin16
  user_id: number
  type: NotificationTypeName
  group_id: Bin16
  message_id: Bin16 | null
  actor_user_id: number | null
  mention_type: 'user' | 'everyone' | null
  emoji: string | null
  read_at: NullableTimestamp
  created_at: Timestamp
}

/** Per user and type; no row means every type is on. */
export interface NotificationPreferencesTable {
  user_id: number
  mention: boolean
  reply: boolean
  reaction: boolean
  added_to_group: boolean
  updated_at: Timestamp
}

/** Webhook deliveries: pending until delivered (then deleted) or dead-lettered. */
export interface PushWebhookOutboxTable {
  id: Generated<number>
  event_id: Bin16
  user_id: number
  payload: string
  preview_group_id: Bin16 | null
  preview_message_id: Bin16 | null
  status: ColumnType<'pending' | 'dead', 'pending' | 'dead' | undefined, 'pending' | 'dead'>
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: Date
  locked_by: string | null
  locked_until: NullableTimestamp
  last_error: string | null
  created_at: Date
  dead_at: NullableTimestamp
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
  mirror_group_chat_attachments: AttachmentsTable
  notification_jobs: NotificationJobsTable
  notifications: NotificationsTable
  notification_preferences: NotificationPreferencesTable
  push_webhook_outbox: PushWebhookOutboxTable
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
export type AttachmentRow = Selectable<AttachmentsTable>
