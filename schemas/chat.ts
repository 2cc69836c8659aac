import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { uuid, isoDateTime, userId } from './common.ts'

/*
 * The chat contract: every name of seed 01 §6.1 with the seed's shapes (a frontend written
 * against the seed compiles against these types unchanged), plus the request and response
 * bodies of the seed 01 §4 chat endpoints. Additions are fields, never renames: ChatMessage
 * carries its group `seq`.
 */

/** Bounds of seed 01 §4 and of what the service accepts; the service enforces the same numbers. */
export const CHAT_LIMITS = {
  contentMaxLength: 10_000,
  clientMessageIdMaxLength: 64,
  emojiMaxLength: 32,
  pinNoteMaxLength: 255,
  searchQueryMinLength: 2,
  searchQueryMaxLength: 200,
  searchMaxLimit: 50,
  searchDefaultLimit: 20,
  searchMaxOffset: 10_000,
  pageMaxLimit: 100,
  pageDefaultLimit: 50,
  mentionsMax: 50,
  linksMax: 20,
  formattingRangesMax: 200,
  urlMaxLength: 2048,
  usernameMaxLength: 64,
  linkTitleMaxLength: 300,
  linkDescriptionMaxLength: 1000,
  replyPreviewMaxLength: 200,
  customMaxBytes: 4096,
  /** Levels of objects and arrays in metadata.custom, itself included. */
  customMaxDepth: 8,
  /** Keys and array items in metadata.custom, at every level together. */
  customMaxEntries: 200,
  /** Attachments one message carries. */
  attachmentsMax: 10,
  /** Targets of one forward request. */
  forwardMaxTargets: 10,
  /** Groups a cross-group search looks in: the caller's most recently active ones. */
  crossSearchMaxGroups: 100
} as const

/**
 * A timestamp: ISO 8601 on the wire. The static type is the seed's `Date | string`, so a
 * frontend may build optimistic messages with `new Date()`.
 */
const DateTime = Type.Unsafe<Date | string>(isoDateTime())
const NullableDateTime = Type.Union([DateTime, Type.Null()])
const UuidString = uuid()
const NullableUuid = Type.Union([UuidString, Type.Null()])
const Offset = Type.Integer({ minimum: 0, maximum: CHAT_LIMITS.contentMaxLength * 2 })

const literals = <T extends string[]>(...values: [...T]) => values.map((v) => Type.Literal(v))

// ============================================================================
// ENUMS & LITERAL TYPES
// ============================================================================

/** Seed 01's MessageContentType: the one list (schemas that inline it build from it). */
export const MESSAGE_CONTENT_TYPES = ['text', 'image', 'file', 'audio', 'video', 'system', 'reply'] as const
export const MessageContentType = Type.Union(literals(...MESSAGE_CONTENT_TYPES), { $id: 'MessageContentType' })
export type MessageContentType = Static<typeof MessageContentType>

export const MessageStatus = Type.Union(literals('sending', 'sent', 'delivered', 'failed'), { $id: 'MessageStatus' })
export type MessageStatus = Static<typeof MessageStatus>

export const PresenceStatus = Type.Union(literals('online', 'away', 'busy', 'offline'), { $id: 'PresenceStatus' })
export type PresenceStatus = Static<typeof PresenceStatus>

export const NotificationLevel = Type.Union(literals('all', 'mentions', 'none'), { $id: 'NotificationLevel' })
export type NotificationLevel = Static<typeof NotificationLevel>

export const DeviceType = Type.Union(literals('web', 'mobile_ios', 'mobile_android', 'desktop'), { $id: 'DeviceType' })
export type DeviceType = Static<typeof DeviceType>

// ============================================================================
// MAIN ENTITIES
// ============================================================================

/**
 * An @mention. Offsets are UTF-16 code unit indices into the content (as JavaScript strings
 * index), `startIndex` < `endIndex` ≤ content length. `userId` is 0 for @everyone.
 */
export const MentionInfo = Type.Object({
  userId: Type.Integer({ minimum: 0, maximum: 4294967295 }),
  username: Type.String({ maxLength: CHAT_LIMITS.usernameMaxLength }),
  startIndex: Offset,
  endIndex: Offset,
  type: Type.Union(literals('user', 'everyone', 'role'))
}, { $id: 'MentionInfo' })
export type MentionInfo = Static<typeof MentionInfo>

/** A link in the content; only http and https URLs are accepted. */
export const LinkPreview = Type.Object({
  url: Type.String({ minLength: 1, maxLength: CHAT_LIMITS.urlMaxLength }),
  title: Type.Optional(Type.String({ maxLength: CHAT_LIMITS.linkTitleMaxLength })),
  description: Type.Optional(Type.String({ maxLength: CHAT_LIMITS.linkDescriptionMaxLength })),
  image: Type.Optional(Type.String({ maxLength: CHAT_LIMITS.urlMaxLength })),
  startIndex: Offset,
  endIndex: Offset
}, { $id: 'LinkPreview' })
export type LinkPreview = Static<typeof LinkPreview>

const Range = Type.Tuple([Offset, Offset])
const Ranges = Type.Array(Range, { maxItems: CHAT_LIMITS.formattingRangesMax })

/** Formatting ranges `[startIndex, endIndex]` inside the content. */
export const FormattingInfo = Type.Object({
  bold: Type.Optional(Ranges),
  italic: Type.Optional(Ranges),
  code: Type.Optional(Ranges),
  links: Type.Optional(Type.Array(
    Type.Tuple([Offset, Offset, Type.String({ minLength: 1, maxLength: CHAT_LIMITS.urlMaxLength })]),
    { maxItems: CHAT_LIMITS.linksMax }
  ))
}, { $id: 'FormattingInfo' })
export type FormattingInfo = Static<typeof FormattingInfo>

export const ReplyPreview = Type.Object({
  messageId: UuidString,
  senderUsername: Type.String({ maxLength: CHAT_LIMITS.usernameMaxLength }),
  content: Type.String({ maxLength: CHAT_LIMITS.replyPreviewMaxLength, description: 'Truncated (~100 chars)' })
}, { $id: 'ReplyPreview' })
export type ReplyPreview = Static<typeof ReplyPreview>

/**
 * Where a forwarded message came from: set by the server on the copies a forward creates
 * (POST …/messages/:messageId/forward), never taken from a client's metadata.
 */
export const ForwardedFrom = Type.Object({
  messageId: UuidString,
  groupId: UuidString,
  senderUserId: Type.Integer({ minimum: 1 })
}, { $id: 'ForwardedFrom' })
export type ForwardedFrom = Static<typeof ForwardedFrom>

/**
 * A message's metadata. The pin fields are set by the server on GET /chat/pinned only, and
 * `forwardedFrom` on forwarded copies only; `custom` is the client's own: at most 4 KB of
 * JSON, 8 levels deep, 200 keys and items.
 */
export const MessageMetadata = Type.Object({
  mentions: Type.Optional(Type.Array(MentionInfo, { maxItems: CHAT_LIMITS.mentionsMax })),
  links: Type.Optional(Type.Array(LinkPreview, { maxItems: CHAT_LIMITS.linksMax })),
  formatting: Type.Optional(FormattingInfo),
  replyPreview: Type.Optional(ReplyPreview),
  custom: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  pinNote: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  pinnedAt: Type.Optional(NullableDateTime),
  pinnedBy: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  forwardedFrom: Type.Optional(ForwardedFrom)
}, { $id: 'MessageMetadata' })
export type MessageMetadata = Static<typeof MessageMetadata>

/** Reactions with one emoji, relative to the caller (`hasReacted`). */
export const ReactionSummary = Type.Object({
  emoji: Type.String(),
  count: Type.Integer({ minimum: 0 }),
  users: Type.Optional(Type.Array(Type.Integer())),
  hasReacted: Type.Optional(Type.Boolean())
}, { $id: 'ReactionSummary' })
export type ReactionSummary = Static<typeof ReactionSummary>

/**
 * A file in a message (seed 01 §6.1), plus where it came from. `filePath` and `thumbnailPath`
 * are the download URLs (absolute paths on this server, members only); `messageId` is "" until
 * a send carries the upload. `fileType` is what the bytes are, sniffed on upload.
 */
export const ChatAttachment = Type.Object({
  id: Type.String(),
  messageId: Type.String({ description: 'The message carrying it; "" while the upload is not attached yet' }),
  fileName: Type.String(),
  fileType: Type.String({ description: 'MIME type, sniffed from the bytes' }),
  fileSize: Type.Integer({ minimum: 0, description: 'Bytes' }),
  filePath: Type.String({ description: 'Download URL (path on this server): GET streams it decrypted, with Range support' }),
  thumbnailPath: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Thumbnail URL (images only), else null' })),
  width: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  height: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  duration: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  isEncrypted: Type.Boolean(),
  processingStatus: Type.Union(literals('pending', 'processing', 'completed', 'failed')),
  groupId: Type.Optional(UuidString),
  uploaderUserId: Type.Optional(Type.Integer()),
  uploadId: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The client upload id it was uploaded under' })),
  createdAt: Type.Optional(DateTime)
}, { $id: 'ChatAttachment' })
export type ChatAttachment = Static<typeof ChatAttachment>

/**
 * A message as every API shows it (seed 01 §6.1), plus its group `seq`: the position in the
 * group's total order, always present in server responses. A deleted message keeps its place
 * with `isDeleted: true`, `content: ""` and `metadata: {}`.
 */
export const ChatMessage = Type.Object({
  id: UuidString,
  groupId: UuidString,
  senderUserId: Type.Integer(),
  senderUsername: Type.Optional(Type.String()),
  content: Type.String({ description: 'Decrypted content' }),
  contentType: MessageContentType,
  parentMessageId: Type.Optional(NullableUuid),
  threadRootId: Type.Optional(NullableUuid),
  threadReplyCount: Type.Optional(Type.Integer({ minimum: 0 })),
  metadata: Type.Optional(MessageMetadata),
  status: MessageStatus,
  isEdited: Type.Boolean(),
  editedAt: Type.Optional(NullableDateTime),
  isDeleted: Type.Boolean(),
  deletedAt: Type.Optional(NullableDateTime),
  encryptionKeyId: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The data key version, e.g. "v1"' })),
  clientMessageId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  createdAt: DateTime,
  updatedAt: DateTime,
  reactions: Type.Optional(Type.Array(ReactionSummary)),
  attachments: Type.Optional(Type.Array(ChatAttachment)),
  readBy: Type.Optional(Type.Array(Type.Integer(), { description: 'Members other than the sender whose read watermark reached this message' })),
  seq: Type.Optional(Type.Integer({ minimum: 1, description: 'Position in the group\'s total order (always present in responses)' })),
  forwardedCount: Type.Optional(Type.Integer({ minimum: 0, description: 'How many copies members forwarded of this message (always present in REST responses)' }))
}, { $id: 'ChatMessage' })
export type ChatMessage = Static<typeof ChatMessage>

// ============================================================================
// TYPING & PRESENCE
// ============================================================================

export const TypingIndicator = Type.Object({
  userId: Type.Integer(),
  username: Type.String(),
  groupId: Type.String(),
  isTyping: Type.Boolean(),
  startedAt: DateTime
}, { $id: 'TypingIndicator' })
export type TypingIndicator = Static<typeof TypingIndicator>

export const UserPresence = Type.Object({
  userId: Type.Integer(),
  username: Type.Optional(Type.String()),
  groupId: Type.String(),
  status: PresenceStatus,
  customStatus: Type.Optional(Type.String()),
  lastSeenAt: DateTime,
  deviceType: Type.Optional(DeviceType)
}, { $id: 'UserPresence' })
export type UserPresence = Static<typeof UserPresence>

// ============================================================================
// CHAT PREFERENCES
// ============================================================================

export const ChatPreferences = Type.Object({
  groupId: Type.String(),
  userId: Type.Integer(),
  mutedUntil: Type.Optional(NullableDateTime),
  notificationLevel: NotificationLevel,
  pinned: Type.Boolean({ description: 'Pinned in the chat list' }),
  archived: Type.Boolean(),
  lastReadMessageId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  lastReadAt: Type.Optional(NullableDateTime),
  unreadCount: Type.Integer({ minimum: 0 }),
  showPreviews: Type.Boolean()
}, { $id: 'ChatPreferences' })
export type ChatPreferences = Static<typeof ChatPreferences>

// ============================================================================
// API REQUEST/RESPONSE TYPES
// ============================================================================

const Content = Type.String({ minLength: 1, maxLength: CHAT_LIMITS.contentMaxLength, description: '1–10000 characters' })

/** POST /groups/:groupId/chat/messages (seed 01 §4.2.1). */
export const SendMessageRequest = Type.Object({
  content: Content,
  contentType: Type.Optional(MessageContentType),
  parentMessageId: Type.Optional(UuidString),
  clientMessageId: Type.Optional(Type.String({
    minLength: 1,
    maxLength: CHAT_LIMITS.clientMessageIdMaxLength,
    description: 'Client-generated id (a UUID) for deduplication: a retry returns the original message'
  })),
  metadata: Type.Optional(MessageMetadata),
  attachmentIds: Type.Optional(Type.Array(UuidString, {
    maxItems: CHAT_LIMITS.attachmentsMax,
    description: 'Uploads of the sender in this group, not attached to another message (at most 10)'
  }))
}, { $id: 'SendMessageRequest' })
export type SendMessageRequest = Static<typeof SendMessageRequest>

/**
 * GET /groups/:groupId/chat/messages (seed 01 §4.2.2). `before` and `after` are message ids of
 * the same group and exclude each other; an unknown cursor answers 400 VALIDATION_ERROR.
 */
export const GetMessagesRequest = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.pageMaxLimit, default: CHAT_LIMITS.pageDefaultLimit })),
  before: Type.Optional(UuidString),
  after: Type.Optional(UuidString),
  threadRootId: Type.Optional(UuidString),
  includeReactions: Type.Optional(Type.Boolean({ default: false })),
  includeReadBy: Type.Optional(Type.Boolean({ default: false }))
}, { $id: 'GetMessagesRequest' })
export type GetMessagesRequest = Static<typeof GetMessagesRequest>

/**
 * A page of messages, newest first. `nextCursor` is the oldest message of the page, as seed 01
 * §4.2.2 defines it, whatever the direction (`before=nextCursor` pages back); null when the
 * page is empty. With `after`, the page holds the oldest messages after the cursor, so paging
 * forward with `after=messages[0].id` (the page's newest, as seed 01 §11.1 does) has no gap.
 */
export const GetMessagesResponse = Type.Object({
  messages: Type.Array(ChatMessage),
  hasMore: Type.Boolean(),
  nextCursor: Type.Optional(Type.Union([Type.String(), Type.Null()]))
}, { $id: 'GetMessagesResponse' })
export type GetMessagesResponse = Static<typeof GetMessagesResponse>

export const MessageParams = Type.Object({
  groupId: UuidString,
  messageId: UuidString
})
export type MessageParams = Static<typeof MessageParams>

export const ReactionParams = Type.Object({
  groupId: UuidString,
  messageId: UuidString,
  emoji: Type.String({ minLength: 1, maxLength: CHAT_LIMITS.emojiMaxLength, description: 'URL-encoded emoji' })
})
export type ReactionParams = Static<typeof ReactionParams>

/** One message: the send, get and edit responses. */
export const MessageResponse = Type.Object({ message: ChatMessage }, { $id: 'MessageResponse' })
export type MessageResponse = Static<typeof MessageResponse>

/** PUT …/messages/:messageId. `metadata` (an addition) replaces the old one; when absent, the old one is kept minus ranges the new content no longer holds. */
export const EditMessageRequest = Type.Object({
  content: Content,
  metadata: Type.Optional(MessageMetadata)
}, { $id: 'EditMessageRequest' })
export type EditMessageRequest = Static<typeof EditMessageRequest>

export const DeleteMessageResponse = Type.Object({
  deleted: Type.Literal(true),
  messageId: UuidString
}, { $id: 'DeleteMessageResponse' })
export type DeleteMessageResponse = Static<typeof DeleteMessageResponse>

export const AddReactionRequest = Type.Object({
  emoji: Type.String({ minLength: 1, maxLength: CHAT_LIMITS.emojiMaxLength, description: 'A Unicode emoji, 1–32 characters' })
}, { $id: 'AddReactionRequest' })
export type AddReactionRequest = Static<typeof AddReactionRequest>

export const ReactionsResponse = Type.Object({ reactions: Type.Array(ReactionSummary) }, { $id: 'ReactionsResponse' })
export type ReactionsResponse = Static<typeof ReactionsResponse>

export const MarkReadRequest = Type.Object({
  messageId: uuid({ description: 'Everything up to and including this message is read' })
}, { $id: 'MarkReadRequest' })
export type MarkReadRequest = Static<typeof MarkReadRequest>

export const MarkReadResponse = Type.Object({
  marked: Type.Literal(true),
  upToMessageId: UuidString
}, { $id: 'MarkReadResponse' })
export type MarkReadResponse = Static<typeof MarkReadResponse>

export const UnreadCountResponse = Type.Object({
  groupId: UuidString,
  unreadCount: Type.Integer({ minimum: 0 })
}, { $id: 'UnreadCountResponse' })
export type UnreadCountResponse = Static<typeof UnreadCountResponse>

export const PinMessageRequest = Type.Object({
  note: Type.Optional(Type.String({ maxLength: CHAT_LIMITS.pinNoteMaxLength }))
}, { $id: 'PinMessageRequest' })
export type PinMessageRequest = Static<typeof PinMessageRequest>

export const PinMessageResponse = Type.Object({
  pinned: Type.Literal(true),
  messageId: UuidString
}, { $id: 'PinMessageResponse' })
export type PinMessageResponse = Static<typeof PinMessageResponse>

export const UnpinMessageResponse = Type.Object({
  unpinned: Type.Literal(true),
  messageId: UuidString
}, { $id: 'UnpinMessageResponse' })
export type UnpinMessageResponse = Static<typeof UnpinMessageResponse>

/** Pinned messages in pin order, each with metadata.pinNote, pinnedAt and pinnedBy. */
export const PinnedMessagesResponse = Type.Object({
  pinnedMessages: Type.Array(ChatMessage),
  count: Type.Integer({ minimum: 0 })
}, { $id: 'PinnedMessagesResponse' })
export type PinnedMessagesResponse = Static<typeof PinnedMessagesResponse>

/** Filters every search takes beside its words; all given filters must hold. */
const searchFilters = {
  senderId: Type.Optional(userId({ description: 'Only messages of this sender' })),
  from: Type.Optional(isoDateTime({ description: 'Only messages sent at or after this time' })),
  to: Type.Optional(isoDateTime({ description: 'Only messages sent at or before this time' })),
  contentType: Type.Optional(MessageContentType),
  hasAttachments: Type.Optional(Type.Boolean({ description: 'true: only image, file, audio and video messages; false: only the others' }))
}

export const SearchMessagesRequest = Type.Object({
  q: Type.String({ minLength: CHAT_LIMITS.searchQueryMinLength, maxLength: CHAT_LIMITS.searchQueryMaxLength }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.searchMaxLimit, default: CHAT_LIMITS.searchDefaultLimit })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: CHAT_LIMITS.searchMaxOffset, default: 0 })),
  ...searchFilters,
  threadRootId: Type.Optional(uuid({ description: 'Only replies in the thread of this root message' }))
}, { $id: 'SearchMessagesRequest' })
export type SearchMessagesRequest = Static<typeof SearchMessagesRequest>

/** Matches newest first; `count` is the total number of matches, not the page size. */
export const SearchMessagesResponse = Type.Object({
  messages: Type.Array(ChatMessage),
  query: Type.String(),
  count: Type.Integer({ minimum: 0 })
}, { $id: 'SearchMessagesResponse' })
export type SearchMessagesResponse = Static<typeof SearchMessagesResponse>

/**
 * GET /chat/search: the caller's groups searched at once — the most recently active
 * CHAT_LIMITS.crossSearchMaxGroups of them — newest first. `cursor` is the previous page's
 * nextCursor.
 */
export const CrossGroupSearchRequest = Type.Object({
  q: Type.String({ minLength: CHAT_LIMITS.searchQueryMinLength, maxLength: CHAT_LIMITS.searchQueryMaxLength }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.searchMaxLimit, default: CHAT_LIMITS.searchDefaultLimit })),
  cursor: Type.Optional(uuid({ description: 'nextCursor of the previous page' })),
  ...searchFilters
}, { $id: 'CrossGroupSearchRequest' })
export type CrossGroupSearchRequest = Static<typeof CrossGroupSearchRequest>

/** Matches across groups, newest first (each carries its groupId); nextCursor is null on the last page. */
export const CrossGroupSearchResponse = Type.Object({
  messages: Type.Array(ChatMessage),
  query: Type.String(),
  count: Type.Integer({ minimum: 0, description: 'Messages on this page' }),
  hasMore: Type.Boolean(),
  nextCursor: Type.Union([UuidString, Type.Null()]),
  groupsSearched: Type.Integer({ minimum: 0, description: `How many of the caller's groups were searched: the most recently active ${CHAT_LIMITS.crossSearchMaxGroups} at most` })
}, { $id: 'CrossGroupSearchResponse' })
export type CrossGroupSearchResponse = Static<typeof CrossGroupSearchResponse>

/**
 * POST …/messages/:messageId/forward. `clientMessageId` makes the request safe to retry: each
 * target's copy is stored under an id derived from it, so a retry answers with the copies
 * already made and makes only the missing ones.
 */
export const ForwardMessageRequest = Type.Object({
  targetGroupIds: Type.Array(UuidString, { minItems: 1, maxItems: CHAT_LIMITS.forwardMaxTargets, description: `1–${CHAT_LIMITS.forwardMaxTargets} groups to forward to, each one the caller can post in` }),
  clientMessageId: Type.Optional(Type.String({ minLength: 1, maxLength: CHAT_LIMITS.clientMessageIdMaxLength, description: 'Client-generated id of this forward request, for safe retries' }))
}, { $id: 'ForwardMessageRequest' })
export type ForwardMessageRequest = Static<typeof ForwardMessageRequest>

/** One target of a forward: the copy made there, or why none was. */
export const ForwardResult = Type.Object({
  groupId: UuidString,
  success: Type.Boolean(),
  message: Type.Optional(ChatMessage),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }))
}, { $id: 'ForwardResult' })
export type ForwardResult = Static<typeof ForwardResult>

/** 200 whenever the source could be forwarded, even if some or every target failed: see each result. */
export const ForwardMessageResponse = Type.Object({
  originalMessageId: UuidString,
  forwardedCount: Type.Integer({ minimum: 0, description: 'The original\'s forwardedCount after this request' }),
  results: Type.Array(ForwardResult)
}, { $id: 'ForwardMessageResponse' })
export type ForwardMessageResponse = Static<typeof ForwardMessageResponse>

/** A replaced version of a message, as it read before an edit. */
export const MessageEditVersion = Type.Object({
  version: Type.Integer({ minimum: 1, description: '1 is the original text' }),
  content: Type.String(),
  metadata: MessageMetadata,
  writtenAt: isoDateTime(),
  editedAt: isoDateTime(),
  editedBy: Type.Integer()
}, { $id: 'MessageEditVersion', description: 'writtenAt: when this version was written; editedAt: when an edit replaced it' })
export type MessageEditVersion = Static<typeof MessageEditVersion>

/** GET …/messages/:messageId/history: the previous versions, newest first (the current one is the message itself). */
export const MessageEditHistoryResponse = Type.Object({
  messageId: UuidString,
  versions: Type.Array(MessageEditVersion),
  count: Type.Integer({ minimum: 0 })
}, { $id: 'MessageEditHistoryResponse' })
export type MessageEditHistoryResponse = Static<typeof MessageEditHistoryResponse>

/** Every chat schema with an `$id`, in dependency order, for schemas/index.ts. */
export const chatSchemas: TSchema[] = [
  MessageContentType, MessageStatus, PresenceStatus, NotificationLevel, DeviceType,
  MentionInfo, LinkPreview, FormattingInfo, ReplyPreview, ForwardedFrom, MessageMetadata, ReactionSummary,
  ChatAttachment, ChatMessage, TypingIndicator, UserPresence, ChatPreferences,
  SendMessageRequest, GetMessagesRequest, GetMessagesResponse, MessageResponse, EditMessageRequest,
  DeleteMessageResponse, AddReactionRequest, ReactionsResponse, MarkReadRequest, MarkReadResponse,
  UnreadCountResponse, PinMessageRequest, PinMessageResponse, UnpinMessageResponse,
  PinnedMessagesResponse, SearchMessagesRequest, SearchMessagesResponse,
  CrossGroupSearchRequest, CrossGroupSearchResponse, ForwardMessageRequest, ForwardResult, ForwardMessageResponse,
  MessageEditVersion, MessageEditHistoryResponse
]
