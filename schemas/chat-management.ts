import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, uuid, isoDateTime, userId } from './common.ts'
import { DeviceType, NotificationLevel, PresenceStatus } from './chat.ts'

/*
 * Chat management (DESIGN §4, seed 05 §§1–5 in seed 01's camelCase, `group` for the seed's
 * `room`): deleting and clearing a chat, archiving, read status and unread counts, per-chat
 * preferences, marking many chats read, and the presence of a contact list. Every action is
 * the caller's own view unless it says "for everyone".
 */

const GroupId = uuid()
const MessageId = uuid()
const IsoTime = isoDateTime()
const Seq = Type.Integer({ minimum: 0 })

/** At most this many chats pinned in one user's chat list. */
export const MAX_PINNED_CHATS = 10
/** At most this many groups in one PUT /chat/read-status. */
export const MAX_BULK_READ_GROUPS = 100
/** At most this many users in one GET /presence. */
export const MAX_PRESENCE_USERS = 100

/** DELETE /groups/:groupId/chat. */
export const DeleteChatResponse = Type.Object({
  groupId: GroupId,
  deletedAt: IsoTime,
  left: Type.Boolean({ description: 'true: you left the group (a group chat); false: a direct chat hidden and cleared for you until a newer message arrives' })
}, { $id: 'DeleteChatResponse' })
export type DeleteChatResponse = Static<typeof DeleteChatResponse>

export const ClearHistoryQuery = Type.Object({
  forEveryone: Type.Boolean({ default: false, description: 'Clear for every member (group admins and the owner only)' })
})
export type ClearHistoryQuery = Static<typeof ClearHistoryQuery>

/** DELETE /groups/:groupId/chat/messages. */
export const ClearHistoryResponse = Type.Object({
  groupId: GroupId,
  clearedAt: IsoTime,
  forEveryone: Type.Boolean(),
  upToSeq: Seq
}, { $id: 'ClearHistoryResponse' })
export type ClearHistoryResponse = Static<typeof ClearHistoryResponse>

export const ArchiveChatRequest = Type.Object({
  isArchived: Type.Boolean()
}, { $id: 'ArchiveChatRequest', additionalProperties: false })
export type ArchiveChatRequest = Static<typeof ArchiveChatRequest>

/** A new message unarchives the chat again, unless the chat is muted when it arrives. */
export const ArchiveChatResponse = Type.Object({
  groupId: GroupId,
  isArchived: Type.Boolean(),
  archivedAt: Type.Union([IsoTime, Type.Null()])
}, { $id: 'ArchiveChatResponse' })
export type ArchiveChatResponse = Static<typeof ArchiveChatResponse>

/** PUT /groups/:groupId/chat/read-status. */
export const ReadStatusRequest = Type.Object({
  isRead: Type.Boolean({ description: 'true: mark read (the whole chat, or up to lastReadMessageId; never backwards); false: mark unread (at least 1 until read)' }),
  lastReadMessageId: Type.Optional(MessageId)
}, { $id: 'ReadStatusRequest', additionalProperties: false })
export type ReadStatusRequest = Static<typeof ReadStatusRequest>

export const ReadStatusResponse = Type.Object({
  groupId: GroupId,
  unreadCount: Type.Integer({ minimum: 0 }),
  lastReadMessageId: Type.Union([MessageId, Type.Null()]),
  readAt: Type.Union([IsoTime, Type.Null()])
}, { $id: 'ReadStatusResponse' })
export type ReadStatusResponse = Static<typeof ReadStatusResponse>

/** PUT /chat/read-status: several chats at once. */
export const BulkReadStatusRequest = Type.Object({
  groupIds: Type.Array(GroupId, { minItems: 1, maxItems: MAX_BULK_READ_GROUPS, description: `1–${MAX_BULK_READ_GROUPS} of your groups` }),
  isRead: Type.Boolean()
}, { $id: 'BulkReadStatusRequest', additionalProperties: false })
export type BulkReadStatusRequest = Static<typeof BulkReadStatusRequest>

export const BulkReadStatusResponse = Type.Object({
  groups: Type.Array(Ref(ReadStatusResponse))
}, { $id: 'BulkReadStatusResponse' })
export type BulkReadStatusResponse = Static<typeof BulkReadStatusResponse>

export const UnreadCountQuery = Type.Object({
  groupId: Type.Optional(GroupId),
  excludeMuted: Type.Boolean({ default: false, description: 'Leave chats muted now out of the total and the list' })
})
export type UnreadCountQuery = Static<typeof UnreadCountQuery>

export const GroupUnreadCount = Type.Object({
  groupId: GroupId,
  unreadCount: Type.Integer({ minimum: 0 }),
  lastReadMessageId: Type.Union([MessageId, Type.Null()]),
  lastMessageTimestamp: Type.Union([IsoTime, Type.Null()])
}, { $id: 'GroupUnreadCount' })
export type GroupUnreadCount = Static<typeof GroupUnreadCount>

/** GET /chat/unread-count: the total and every chat with unread messages. */
export const UnreadCountsResponse = Type.Object({
  totalUnread: Type.Integer({ minimum: 0 }),
  groups: Type.Array(Ref(GroupUnreadCount), { description: 'Chats with at least one unread message, most recent first' })
}, { $id: 'UnreadCountsResponse' })
export type UnreadCountsResponse = Static<typeof UnreadCountsResponse>

/** GET /chat/unread-count?groupId=. */
export const SingleUnreadCountResponse = Type.Object({
  groupId: GroupId,
  unreadCount: Type.Integer({ minimum: 0 }),
  lastReadMessageId: Type.Union([MessageId, Type.Null()])
}, { $id: 'SingleUnreadCountResponse' })
export type SingleUnreadCountResponse = Static<typeof SingleUnreadCountResponse>

export const MuteDuration = Type.Union([Type.Literal('1h'), Type.Literal('8h'), Type.Literal('1d'), Type.Literal('forever')], { $id: 'MuteDuration' })
export type MuteDuration = Static<typeof MuteDuration>

/**
 * PUT /groups/:groupId/chat/preferences: only the given fields change. Mute with `muteFor`, or
 * until a time with `mutedUntil`; `mutedUntil: null` unmutes. A mute ends by itself at its time.
 */
export const UpdateChatPreferencesRequest = Type.Object({
  notificationLevel: Type.Optional(Ref(NotificationLevel)),
  muteFor: Type.Optional(Ref(MuteDuration)),
  mutedUntil: Type.Optional(Type.Union([IsoTime, Type.Null()])),
  showPreviews: Type.Optional(Type.Boolean()),
  pinned: Type.Optional(Type.Boolean({ description: `Pinned first in the chat list; at most ${MAX_PINNED_CHATS} chats` }))
}, { $id: 'UpdateChatPreferencesRequest', additionalProperties: false, minProperties: 1 })
export type UpdateChatPreferencesRequest = Static<typeof UpdateChatPreferencesRequest>

export const PresenceQuery = Type.Object({
  userIds: Type.Array(userId(), {
    minItems: 1,
    maxItems: MAX_PRESENCE_USERS,
    description: `1–${MAX_PRESENCE_USERS} user ids: ?userIds=1&userIds=2 or ?userIds=1,2`
  })
})
export type PresenceQuery = Static<typeof PresenceQuery>

/** A contact's presence, whichever group you share with them. */
export const ContactPresence = Type.Object({
  userId: Type.Integer({ minimum: 1 }),
  username: Type.String(),
  status: Ref(PresenceStatus),
  lastSeenAt: IsoTime,
  deviceType: Type.Optional(Ref(DeviceType))
}, { $id: 'ContactPresence' })
export type ContactPresence = Static<typeof ContactPresence>

/** GET /presence: only users who share a group with you; others are left out. */
export const ContactPresenceResponse = Type.Object({
  presence: Type.Array(Ref(ContactPresence))
}, { $id: 'ContactPresenceResponse' })
export type ContactPresenceResponse = Static<typeof ContactPresenceResponse>

export const chatManagementSchemas: TSchema[] = [
  DeleteChatResponse, ClearHistoryResponse, ArchiveChatRequest, ArchiveChatResponse, ReadStatusRequest, ReadStatusResponse,
  BulkReadStatusRequest, BulkReadStatusResponse, GroupUnreadCount, UnreadCountsResponse, SingleUnreadCountResponse,
  MuteDuration, UpdateChatPreferencesRequest, ContactPresence, ContactPresenceResponse
]
