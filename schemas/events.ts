import { Type, type Static } from '@sinclair/typebox'
import { uuid, userId, isoDateTime } from './common.ts'
import { UploadProgressEvent } from './attachments.ts'
import { ChatAttachment, ChatMessage, ChatPreferences, MessageContentType, MessageMetadata, MessageStatus, PresenceStatus, ReactionSummary } from './chat.ts'
import { Notification } from './notifications.ts'
import { GroupRole } from './groups.ts'

/*
 * Server → client events: what services publish on the bus and the gateway sends as
 * `{ type, payload }` frames. Seed 01 §5.5 payloads exactly, plus the DESIGN §5 additions.
 */

const GroupId = uuid()
const UserIdInt = userId()
const IsoTime = isoDateTime()

export const MemberRoleName = GroupRole

export const MemberJoinedEvent = Type.Object({
  type: Type.Literal('chat:member_joined'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, role: MemberRoleName, addedBy: Type.Union([UserIdInt, Type.Null()]) })
}, { $id: 'MemberJoinedEvent' })
export type MemberJoinedEvent = Static<typeof MemberJoinedEvent>

export const MemberLeftEvent = Type.Object({
  type: Type.Literal('chat:member_left'),
  payload: Type.Object({
    groupId: GroupId,
    userId: UserIdInt,
    reason: Type.Union([Type.Literal('left'), Type.Literal('removed')]),
    removedBy: Type.Union([UserIdInt, Type.Null()])
  })
}, { $id: 'MemberLeftEvent' })
export type MemberLeftEvent = Static<typeof MemberLeftEvent>

export const MemberRoleChangedEvent = Type.Object({
  type: Type.Literal('chat:member_role_changed'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, role: MemberRoleName, changedBy: UserIdInt })
}, { $id: 'MemberRoleChangedEvent' })
export type MemberRoleChangedEvent = Static<typeof MemberRoleChangedEvent>

export const GroupUpdatedEvent = Type.Object({
  type: Type.Literal('chat:group_updated'),
  payload: Type.Object({ groupId: GroupId, updatedBy: Type.Union([UserIdInt, Type.Null()]), updatedAt: IsoTime })
}, { $id: 'GroupUpdatedEvent' })
export type GroupUpdatedEvent = Static<typeof GroupUpdatedEvent>

export const GroupDeletedEvent = Type.Object({
  type: Type.Literal('chat:group_deleted'),
  payload: Type.Object({
    groupId: GroupId,
    deletedBy: Type.Optional(Type.Integer({ minimum: 1, description: 'The owner who deleted the group for everyone; absent when its last member left' }))
  })
}, { $id: 'GroupDeletedEvent' })
export type GroupDeletedEvent = Static<typeof GroupDeletedEvent>

// ---- chat (seed 01 §5.5); published by the chat service after commit ----

const MessageId = uuid()

/**
 * seed 01 §5.5.1 plus the group `seq`. Content is not included (fetch it over REST) unless the
 * deployment sets WS_BROADCAST_CONTENT; `isDeleted` is true only in a replay of a message deleted since.
 */
export const ChatMessageEvent = Type.Object({
  type: Type.Literal('chat:message'),
  payload: Type.Object({
    id: MessageId,
    groupId: GroupId,
    senderUserId: UserIdInt,
    senderUsername: Type.String(),
    contentType: MessageContentType,
    parentMessageId: Type.Union([MessageId, Type.Null()]),
    threadRootId: Type.Union([MessageId, Type.Null()]),
    metadata: MessageMetadata,
    status: MessageStatus,
    clientMessageId: Type.Union([Type.String(), Type.Null()]),
    createdAt: IsoTime,
    encryptedContent: Type.Literal(true),
    seq: Type.Integer({ minimum: 1 }),
    isDeleted: Type.Boolean(),
    content: Type.Optional(Type.String()),
    attachments: Type.Optional(Type.Array(ChatAttachment, { description: 'The message\'s attachments; absent when it has none (or is deleted)' }))
  })
}, { $id: 'ChatMessageEvent' })
export type ChatMessageEvent = Static<typeof ChatMessageEvent>

/**
 * seed 01 §5.5.2; `content` only with WS_BROADCAST_CONTENT. `senderUserId` (an addition, always
 * set by the server) is the message's sender, so those who blocked them are not sent the edit.
 */
export const MessageEditedEvent = Type.Object({
  type: Type.Literal('chat:message_edited'),
  payload: Type.Object({
    messageId: MessageId,
    groupId: GroupId,
    editedAt: IsoTime,
    content: Type.Optional(Type.String()),
    senderUserId: Type.Optional(UserIdInt)
  })
}, { $id: 'MessageEditedEvent' })
export type MessageEditedEvent = Static<typeof MessageEditedEvent>

/** seed 01 §5.5.3. */
export const MessageDeletedEvent = Type.Object({
  type: Type.Literal('chat:message_deleted'),
  payload: Type.Object({ messageId: MessageId, groupId: GroupId, deletedBy: UserIdInt })
}, { $id: 'MessageDeletedEvent' })
export type MessageDeletedEvent = Static<typeof MessageDeletedEvent>

/**
 * seed 01 §5.5.6: every reaction lists its users, and `hasReacted` is relative to whoever
 * receives the event (the gateway sets it per connection).
 */
export const ReactionsUpdatedEvent = Type.Object({
  type: Type.Literal('chat:reactions_updated'),
  payload: Type.Object({ messageId: MessageId, groupId: GroupId, reactions: Type.Array(Type.Required(ReactionSummary)) })
}, { $id: 'ReactionsUpdatedEvent' })
export type ReactionsUpdatedEvent = Static<typeof ReactionsUpdatedEvent>

/** seed 01 §5.5.7: the reader's watermark moved up to (and including) the message. */
export const MessageReadEvent = Type.Object({
  type: Type.Literal('chat:message_read'),
  payload: Type.Object({ messageIds: Type.Array(MessageId), groupId: GroupId, userId: UserIdInt, readAt: IsoTime })
}, { $id: 'MessageReadEvent' })
export type MessageReadEvent = Static<typeof MessageReadEvent>

/** seed 01 §5.5.8, to the mentioned user only. */
export const MentionEvent = Type.Object({
  type: Type.Literal('chat:mention'),
  payload: Type.Object({ message: ChatMessage, groupId: GroupId, mentionType: Type.Union([Type.Literal('user'), Type.Literal('everyone')]) })
}, { $id: 'MentionEvent' })
export type MentionEvent = Static<typeof MentionEvent>

/** To a user's own connections after they read: their other devices update the badge. */
export const UnreadCountEvent = Type.Object({
  type: Type.Literal('chat:unread_count'),
  payload: Type.Object({ groupId: GroupId, unreadCount: Type.Integer({ minimum: 0 }) })
}, { $id: 'UnreadCountEvent' })
export type UnreadCountEvent = Static<typeof UnreadCountEvent>

export const MessagePinnedEvent = Type.Object({
  type: Type.Literal('chat:message_pinned'),
  payload: Type.Object({
    messageId: MessageId,
    groupId: GroupId,
    pinnedBy: UserIdInt,
    pinNote: Type.Union([Type.String(), Type.Null()]),
    pinnedAt: IsoTime
  })
}, { $id: 'MessagePinnedEvent' })
export type MessagePinnedEvent = Static<typeof MessagePinnedEvent>

export const MessageUnpinnedEvent = Type.Object({
  type: Type.Literal('chat:message_unpinned'),
  payload: Type.Object({ messageId: MessageId, groupId: GroupId, unpinnedBy: UserIdInt })
}, { $id: 'MessageUnpinnedEvent' })
export type MessageUnpinnedEvent = Static<typeof MessageUnpinnedEvent>

// ---- typing and presence (seed 01 §5.5.4–5.5.5); published by the presence service ----

/** seed 01 §5.5.4: a start, a stop, or the expiry of a start 5 s after the last one. */
export const TypingEvent = Type.Object({
  type: Type.Literal('chat:typing'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, username: Type.String(), isTyping: Type.Boolean() })
}, { $id: 'TypingEvent' })
export type TypingEvent = Static<typeof TypingEvent>

/** seed 01 §5.5.5: to each group of the user when their status changes or they go offline. */
export const PresenceEvent = Type.Object({
  type: Type.Literal('chat:presence'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, username: Type.String(), status: PresenceStatus, lastSeenAt: IsoTime })
}, { $id: 'PresenceEvent' })
export type PresenceEvent = Static<typeof PresenceEvent>

// ---- the key directory (seed 05 §6); published by the keys service after commit ----

/**
 * A user's device key was added, replaced or revoked: to that user and to everyone who shares a
 * group with them, so clients re-fetch the keys and warn about an unverified change.
 */
export const KeyChangedEvent = Type.Object({
  type: Type.Literal('chat:key_changed'),
  payload: Type.Object({
    userId: UserIdInt,
    deviceId: Type.String(),
    keyId: Type.String(),
    change: Type.Union([Type.Literal('added'), Type.Literal('replaced'), Type.Literal('revoked')]),
    fingerprint: Type.String({ description: 'SHA-256 hex of the key\'s SPKI DER' }),
    previousKeyId: Type.Union([Type.String(), Type.Null()]),
    changedAt: IsoTime
  })
}, { $id: 'KeyChangedEvent', description: 'A device key of a user you share a group with (or your own) changed' })
export type KeyChangedEvent = Static<typeof KeyChangedEvent>

// ---- chat management (seed 05 §§1–5); published by the chat-management service after commit ----

/**
 * History was cleared up to `upToSeq`: for you on all your devices (`forEveryone: false`), or
 * by an admin for every member. Drop those messages; they never come back. `hidden`: you
 * deleted this direct chat, which stays out of your list until a newer message arrives.
 */
export const MessagesClearedEvent = Type.Object({
  type: Type.Literal('chat:messages_cleared'),
  payload: Type.Object({
    groupId: GroupId,
    upToSeq: Type.Integer({ minimum: 0 }),
    forEveryone: Type.Boolean(),
    clearedBy: UserIdInt,
    hidden: Type.Boolean()
  })
}, { $id: 'MessagesClearedEvent', description: 'Messages up to upToSeq were cleared for you (or for everyone)' })
export type MessagesClearedEvent = Static<typeof MessagesClearedEvent>

/** Your preferences of a chat changed (archive, mute, level, previews, pin): to all your connections. */
export const PreferencesUpdatedEvent = Type.Object({
  type: Type.Literal('chat:preferences_updated'),
  payload: ChatPreferences
}, { $id: 'PreferencesUpdatedEvent', description: 'Your preferences of a chat changed on another device' })
export type PreferencesUpdatedEvent = Static<typeof PreferencesUpdatedEvent>

// ---- notifications (DESIGN §4); published by the notification worker after commit ----

/** A new notification of yours: to every connection of yours, on every instance. */
export const NotificationEvent = Type.Object({
  type: Type.Literal('notification'),
  payload: Notification
}, { $id: 'NotificationEvent', description: 'A notification was created for you (see GET /notifications)' })
export type NotificationEvent = Static<typeof NotificationEvent>

/** Every event the bus carries. Areas add theirs here. */
export const ServerEvent = Type.Union([
  TypingEvent,
  PresenceEvent,
  MemberJoinedEvent,
  MemberLeftEvent,
  MemberRoleChangedEvent,
  GroupUpdatedEvent,
  GroupDeletedEvent,
  ChatMessageEvent,
  MessageEditedEvent,
  MessageDeletedEvent,
  ReactionsUpdatedEvent,
  MessageReadEvent,
  MentionEvent,
  UnreadCountEvent,
  MessagePinnedEvent,
  MessageUnpinnedEvent,
  KeyChangedEvent,
  UploadProgressEvent,
  MessagesClearedEvent,
  PreferencesUpdatedEvent,
  NotificationEvent
])
export type ServerEvent = Static<typeof ServerEvent>
