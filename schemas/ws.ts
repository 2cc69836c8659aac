import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, ValidationErrorItem, uuid, isoDateTime } from './common.ts'
import {
  AddReactionRequest, DeviceType, PresenceStatus, ReactionSummary, SendMessageRequest, TypingIndicator, UserPresence
} from './chat.ts'
import { ServerEvent } from './events.ts'

/*
 * The WebSocket protocol (seed 01 §5, DESIGN §5): every client → server frame, every server →
 * client frame, `WSMessageType` and `WSMessage<T>` (seed 01 §6.1). Events that services publish
 * on the bus are defined in events.ts and re-exported here; this file adds the gateway's own
 * frames (acks, errors, joins, sync…) and the typing/presence REST bodies (seed 01 §4.5–4.6).
 *
 * Every frame is `{ type, payload, requestId? }` (seed 01 §5.3). Unknown payload fields are
 * ignored, so newer clients can talk to older servers.
 */

export {
  ServerEvent,
  MemberJoinedEvent, MemberLeftEvent, MemberRoleChangedEvent, GroupUpdatedEvent, GroupDeletedEvent,
  ChatMessageEvent, MessageEditedEvent, MessageDeletedEvent, ReactionsUpdatedEvent, MessageReadEvent,
  MentionEvent, UnreadCountEvent, TypingEvent, PresenceEvent, KeyChangedEvent, MessagesClearedEvent, PreferencesUpdatedEvent, NotificationEvent
} from './events.ts'
export { UploadProgressEvent } from './attachments.ts'

const GroupId = uuid()
const MessageId = uuid()
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

/** Correlates a command with its chat:ack or chat:error. */
export const RequestId = Type.String({ minLength: 1, maxLength: 128, $id: 'RequestId' })
export type RequestId = Static<typeof RequestId>

/**
 * Every `type` either side sends: seed 01 §6.1's 25 names plus the additions the server emits.
 * Only types the server really sends are listed, so a client never waits for an event that
 * cannot come. Not emitted yet, and left out until they are (DESIGN §5 plans them):
 */
export const WSMessageType = Type.Union([
  // Client → Server
  Type.Literal('chat:join_group'),
  Type.Literal('chat:leave_group'),
  Type.Literal('chat:send_message'),
  Type.Literal('chat:edit_message'),
  Type.Literal('chat:delete_message'),
  Type.Literal('chat:typing_start'),
  Type.Literal('chat:typing_stop'),
  Type.Literal('chat:presence_update'),
  Type.Literal('chat:mark_read'),
  Type.Literal('chat:add_reaction'),
  Type.Literal('chat:remove_reaction'),
  Type.Literal('ping'),
  // Server → Client
  Type.Literal('chat:message'),
  Type.Literal('chat:message_edited'),
  Type.Literal('chat:message_deleted'),
  Type.Literal('chat:typing'),
  Type.Literal('chat:presence'),
  Type.Literal('chat:reactions_updated'),
  Type.Literal('chat:message_read'),
  Type.Literal('chat:mention'),
  Type.Literal('chat:group_joined'),
  Type.Literal('chat:group_left'),
  Type.Literal('chat:ack'),
  Type.Literal('chat:error'),
  Type.Literal('pong'),
  // Additions (DESIGN §5)
  Type.Literal('auth'),
  Type.Literal('chat:resync_required'),
  Type.Literal('chat:sync'),
  Type.Literal('chat:member_joined'),
  Type.Literal('chat:member_left'),
  Type.Literal('chat:member_role_changed'),
  Type.Literal('chat:group_updated'),
  Type.Literal('chat:group_deleted'),
  Type.Literal('chat:unread_count'),
  Type.Literal('chat:message_pinned'),
  Type.Literal('chat:message_unpinned'),
  Type.Literal('chat:key_changed'),
  Type.Literal('upload_progress'),
  Type.Literal('chat:messages_cleared'),
  Type.Literal('chat:preferences_updated'),
  Type.Literal('notification')
], { $id: 'WSMessageType' })
export type WSMessageType = Static<typeof WSMessageType>

/** A frame with the given payload schema (seed 01 §6.1 `WSMessage<T>`). */
export const WSMessage = <T extends TSchema>(payload: T) => Type.Object({
  type: WSMessageType,
  payload,
  requestId: Type.Optional(Ref(RequestId))
})
/**
 * Seed 01 §6.1 `WSMessage<T>`. With a payload type, a frame of any type carrying it. Without
 * one, every frame the server sends (ServerMessage): a union discriminated by `type`, so
 * `switch (message.type)` narrows `payload` to that frame's fields.
 */
export type WSMessage<T = never> = [T] extends [never]
  ? ServerMessage
  : { type: WSMessageType, payload: T, requestId?: string }

/** What every client frame must be before its type is known; anything else is malformed. */
export const ClientFrameEnvelope = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  payload: Type.Optional(Type.Unknown()),
  requestId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 }))
}, { $id: 'ClientFrameEnvelope' })
export type ClientFrameEnvelope = Static<typeof ClientFrameEnvelope>

function clientFrame<K extends string, P extends TSchema> (type: K, payload: P, description: string) {
  return Type.Object({
    type: Type.Literal(type),
    payload,
    requestId: Type.Optional(Ref(RequestId))
  }, { $id: frameId(type), description })
}

/** A client frame whose requestId is required (seed 01: send, edit and delete are acknowledged). */
function acknowledgedFrame<K extends string, P extends TSchema> (type: K, payload: P, description: string) {
  return Type.Object({
    type: Type.Literal(type),
    payload,
    requestId: Ref(RequestId)
  }, { $id: frameId(type), description })
}

function serverFrame<K extends string, P extends TSchema> (type: K, payload: P, description: string) {
  return Type.Object({
    type: Type.Literal(type),
    payload,
    requestId: Type.Optional(Ref(RequestId))
  }, { $id: frameId(type), description })
}

/** `chat:join_group` → `JoinGroupFrame`. */
function frameId (type: string): string {
  return type.replace(/^chat:/, '').split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('') + 'Frame'
}

// ============================================================================
// CLIENT → SERVER (seed 01 §5.4)
// ============================================================================

/**
 * Authenticates a connection opened without `?token=` or `?ticket=`: it must be the first
 * frame, within 5 s, or the connection closes with 4001. On an authenticated connection it
 * re-authenticates in place (same user only): sent before the current token expires, it keeps
 * the connection open until the new token's exp (acked with `userId` and `expiresAt`).
 */
export const AuthFrame = Type.Object({
  type: Type.Literal('auth'),
  token: Type.String({ minLength: 1, maxLength: 8192, description: 'An access token (JWT)' }),
  requestId: Type.Optional(Ref(RequestId))
}, { $id: 'AuthFrame', description: 'Authenticate the connection with an access token' })
export type AuthFrame = Static<typeof AuthFrame>

export const JoinGroupFrame = clientFrame('chat:join_group', Type.Object({
  groupId: GroupId,
  sinceSeq: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Replay the messages after this seq before live ones (at most 1,000; past that chat:resync_required)'
  }))
}), 'Subscribe to a group\'s real-time updates (members only)')
export type JoinGroupFrame = Static<typeof JoinGroupFrame>

export const LeaveGroupFrame = clientFrame('chat:leave_group', Type.Object({ groupId: GroupId }),
  'Unsubscribe from a group\'s updates')
export type LeaveGroupFrame = Static<typeof LeaveGroupFrame>

export const SendMessageFrame = acknowledgedFrame('chat:send_message',
  Type.Intersect([Type.Object({ groupId: GroupId }), Ref(SendMessageRequest)]),
  'Send a message (the same rules as POST …/chat/messages)')
export type SendMessageFrame = Static<typeof SendMessageFrame>

export const EditMessageFrame = acknowledgedFrame('chat:edit_message', Type.Object({
  messageId: MessageId,
  groupId: GroupId,
  content: SendMessageRequest.properties.content
}), 'Edit one of your messages')
export type EditMessageFrame = Static<typeof EditMessageFrame>

export const DeleteMessageFrame = acknowledgedFrame('chat:delete_message', Type.Object({
  messageId: MessageId,
  groupId: GroupId
}), 'Delete a message (yours, or any as a group admin)')
export type DeleteMessageFrame = Static<typeof DeleteMessageFrame>

export const TypingStartFrame = clientFrame('chat:typing_start', Type.Object({ groupId: GroupId }),
  'You are typing; expires after 5 s unless repeated')
export type TypingStartFrame = Static<typeof TypingStartFrame>

export const TypingStopFrame = clientFrame('chat:typing_stop', Type.Object({ groupId: GroupId }),
  'You stopped typing')
export type TypingStopFrame = Static<typeof TypingStopFrame>

export const PresenceUpdateFrame = clientFrame('chat:presence_update', Type.Object({
  groupId: GroupId,
  status: Ref(PresenceStatus),
  deviceType: Type.Optional(Ref(DeviceType))
}), 'Set your presence status (every group of yours sees it)')
export type PresenceUpdateFrame = Static<typeof PresenceUpdateFrame>

export const MarkReadFrame = clientFrame('chat:mark_read', Type.Object({
  groupId: GroupId,
  messageId: MessageId
}), 'Everything up to and including the message is read')
export type MarkReadFrame = Static<typeof MarkReadFrame>

const ReactionPayload = Type.Object({
  messageId: MessageId,
  groupId: GroupId,
  emoji: AddReactionRequest.properties.emoji
})

export const AddReactionFrame = clientFrame('chat:add_reaction', ReactionPayload, 'React to a message')
export type AddReactionFrame = Static<typeof AddReactionFrame>

export const RemoveReactionFrame = clientFrame('chat:remove_reaction', ReactionPayload, 'Take a reaction back')
export type RemoveReactionFrame = Static<typeof RemoveReactionFrame>

export const PingFrame = clientFrame('ping', Type.Optional(Type.Object({})), 'Application heartbeat; answered with pong')
export type PingFrame = Static<typeof PingFrame>

/** Every client → server frame. */
export const ClientFrames = [
  AuthFrame, JoinGroupFrame, LeaveGroupFrame, SendMessageFrame, EditMessageFrame, DeleteMessageFrame,
  TypingStartFrame, TypingStopFrame, PresenceUpdateFrame, MarkReadFrame, AddReactionFrame, RemoveReactionFrame, PingFrame
]
export const ClientFrame = Type.Union(ClientFrames)
export type ClientFrame = Static<typeof ClientFrame>

// ============================================================================
// SERVER → CLIENT: the gateway's own frames (events from services are in events.ts)
// ============================================================================

export const GroupJoinedFrame = serverFrame('chat:group_joined', Type.Object({
  groupId: GroupId,
  subscriberCount: Type.Integer({ minimum: 0, description: 'Connections subscribed to the group, on every instance' }),
  latestSeq: Type.Integer({ minimum: 0, description: 'The group\'s newest seq when the subscription started (an addition)' })
}), 'The subscription is live; a replay (if asked) follows, then live events')
export type GroupJoinedFrame = Static<typeof GroupJoinedFrame>

export const GroupLeftReason = Type.Union([
  Type.Literal('left'), Type.Literal('removed'), Type.Literal('deleted')
], { $id: 'GroupLeftReason', description: 'left: you asked (leave_group or left the group); removed: an admin removed you; deleted: the group is gone' })
export type GroupLeftReason = Static<typeof GroupLeftReason>

export const GroupLeftFrame = serverFrame('chat:group_left', Type.Object({
  groupId: GroupId,
  reason: Ref(GroupLeftReason)
}), 'You no longer receive the group\'s events')
export type GroupLeftFrame = Static<typeof GroupLeftFrame>

/** Seed 01 §5.5.10: `success` plus what the operation adds. */
export const AckPayload = Type.Unsafe<{ success: boolean, [field: string]: unknown }>(
  Type.Object({ success: Type.Boolean() }, { additionalProperties: true, $id: 'AckPayload' }))
export type AckPayload = Static<typeof AckPayload>

export const AckFrame = Type.Object({
  type: Type.Literal('chat:ack'),
  payload: Ref(AckPayload),
  requestId: Ref(RequestId)
}, { $id: 'AckFrame', description: 'The command with this requestId succeeded' })
export type AckFrame = Static<typeof AckFrame>

/** The chat:ack payload of chat:send_message (seed 01 §5.4.3 plus DESIGN §5). */
export const SendMessageAck = Type.Object({
  success: Type.Literal(true),
  messageId: MessageId,
  clientMessageId: Type.Union([Type.String(), Type.Null()]),
  seq: Type.Integer({ minimum: 1 }),
  createdAt: isoDateTime(),
  deliveredToCount: Type.Integer({ minimum: 0, description: 'Recipients (not the sender) with a live connection' }),
  queuedForCount: Type.Integer({ minimum: 0, description: 'The other recipients: they get it on their next sync' })
}, { $id: 'SendMessageAck' })
export type SendMessageAck = Static<typeof SendMessageAck>

/** The chat:ack payload of chat:join_group. */
export const JoinGroupAck = Type.Object({
  success: Type.Literal(true),
  groupId: GroupId,
  subscriberCount: Type.Integer({ minimum: 0 }),
  latestSeq: Type.Integer({ minimum: 0 })
}, { $id: 'JoinGroupAck' })
export type JoinGroupAck = Static<typeof JoinGroupAck>

/** The chat:ack payload of chat:add_reaction and chat:remove_reaction. */
export const ReactionAck = Type.Object({
  success: Type.Literal(true),
  messageId: MessageId,
  reactions: Type.Array(Ref(ReactionSummary))
}, { $id: 'ReactionAck' })
export type ReactionAck = Static<typeof ReactionAck>

/** Seed 01 §5.5.9 plus the REST error's details and validationErrors. */
export const ErrorFrame = serverFrame('chat:error', Type.Object({
  error: Type.String({ description: 'Human-readable message' }),
  code: Type.Optional(Type.String({ description: 'One of ErrorCode' })),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  validationErrors: Type.Optional(Type.Array(Ref(ValidationErrorItem)))
}), 'A command or frame failed; with the requestId of the command when it had one')
export type ErrorFrame = Static<typeof ErrorFrame>

export const PongFrame = serverFrame('pong', Type.Object({
  timestamp: Type.Integer({ description: 'Server time, ms since the epoch' })
}), 'The answer to ping')
export type PongFrame = Static<typeof PongFrame>

export const ResyncRequiredFrame = serverFrame('chat:resync_required', Type.Object({
  groupId: GroupId,
  latestSeq: Seq
}), 'More was missed than the socket replays (over 1,000 messages): page over REST up to latestSeq; live events continue after it')
export type ResyncRequiredFrame = Static<typeof ResyncRequiredFrame>

export const SyncGroupState = Type.Object({
  groupId: GroupId,
  latestSeq: Seq,
  unreadCount: Type.Integer({ minimum: 0 }),
  lastReadMessageId: Type.Union([MessageId, Type.Null()])
}, { $id: 'SyncGroupState' })
export type SyncGroupState = Static<typeof SyncGroupState>

export const SyncFrame = serverFrame('chat:sync', Type.Object({
  groups: Type.Array(Ref(SyncGroupState)),
  unreadNotifications: Type.Integer({ minimum: 0, description: 'Your unread notifications (GET /notifications?unread=true)' })
}), 'Sent right after the connection is authenticated: where each of your groups stands')
export type SyncFrame = Static<typeof SyncFrame>

/** The frames the gateway itself sends (the rest are ServerEvent). */
export const GatewayFrames = [GroupJoinedFrame, GroupLeftFrame, AckFrame, ErrorFrame, PongFrame, ResyncRequiredFrame, SyncFrame]

/** Every server → client frame: the bus events plus the gateway's own. */
export const ServerFrame = Type.Union([...ServerEvent.anyOf, ...GatewayFrames])
export type ServerFrame = ServerEvent | GroupJoinedFrame | GroupLeftFrame | AckFrame | ErrorFrame | PongFrame | ResyncRequiredFrame | SyncFrame

/**
 * Every server → client frame as a client receives it, one member per `type`: `requestId` may
 * come with any of them (the answer to a command carries the command's).
 */
export type ServerMessage = {
  [K in ServerFrame['type']]: { type: K, payload: Extract<ServerFrame, { type: K }>['payload'], requestId?: string }
}[ServerFrame['type']]

/** WebSocket close codes (seed 01 §5.2 plus the standard ones the gateway uses). */
export const WS_CLOSE_CODES = {
  /** Normal closure. */
  normal: 1000,
  /** The server is shutting down: reconnect with backoff (to another instance). */
  goingAway: 1001,
  /** A frame larger than WS_MAX_PAYLOAD_BYTES. */
  tooLarge: 1009,
  /**
   * The client did not read fast enough (its send buffer passed WS_SEND_BUFFER_LIMIT_BYTES), or
   * the instance was overloaded when the connection opened: reconnect with backoff and join with sinceSeq.
   */
  tryAgainLater: 1013,
  /**
   * Missing, invalid or expired token or ticket, no auth frame in time, the session ended
   * (logout, refresh-token reuse, password change), or the token expired without an in-place
   * re-auth: refresh the token and reconnect, or sign in again.
   */
  authFailed: 4001,
  /** The Origin is not allowed (WS_ALLOWED_ORIGINS). A join of a group you are not in answers chat:error FORBIDDEN instead. */
  forbidden: 4003,
  /** Rate limits ignored again and again, or more connections than WS_MAX_CONNECTIONS_PER_USER: wait and retry. */
  rateLimited: 4429
} as const

// ============================================================================
// TYPING & PRESENCE over REST (seed 01 §4.5–4.6)
// ============================================================================

export const SetTypingRequest = Type.Object({ isTyping: Type.Boolean() }, { $id: 'SetTypingRequest' })
export type SetTypingRequest = Static<typeof SetTypingRequest>

export const TypingStatus = Type.Object({ groupId: GroupId, isTyping: Type.Boolean() }, { $id: 'TypingStatus' })
export type TypingStatus = Static<typeof TypingStatus>

export const TypingUsersResponse = Type.Object({ typingUsers: Type.Array(Ref(TypingIndicator)) }, { $id: 'TypingUsersResponse' })
export type TypingUsersResponse = Static<typeof TypingUsersResponse>

export const UpdatePresenceRequest = Type.Object({
  status: Ref(PresenceStatus),
  deviceType: Type.Optional(Ref(DeviceType))
}, { $id: 'UpdatePresenceRequest' })
export type UpdatePresenceRequest = Static<typeof UpdatePresenceRequest>

export const PresenceUpdateResult = Type.Object({
  groupId: GroupId,
  status: Ref(PresenceStatus),
  deviceType: Type.Optional(Ref(DeviceType))
}, { $id: 'PresenceUpdateResult' })
export type PresenceUpdateResult = Static<typeof PresenceUpdateResult>

export const GroupPresenceResponse = Type.Object({ presence: Type.Array(Ref(UserPresence)) }, { $id: 'GroupPresenceResponse' })
export type GroupPresenceResponse = Static<typeof GroupPresenceResponse>

/** The typing/presence REST schemas: registered with the app (schemas/index.ts) for the routes. */
export const wsSchemas: TSchema[] = [
  SetTypingRequest, TypingStatus, TypingUsersResponse, UpdatePresenceRequest, PresenceUpdateResult, GroupPresenceResponse
]

/**
 * The frame schemas with an `$id`, in dependency order. No route uses them, so they are not
 * registered with the app (each registered schema costs every route's serializer): the gateway
 * compiles frames against them and the AsyncAPI document lists them.
 */
export const wsFrameSchemas: TSchema[] = [
  RequestId, WSMessageType, ClientFrameEnvelope, GroupLeftReason, AckPayload, SendMessageAck, JoinGroupAck, ReactionAck, SyncGroupState,
  ...ClientFrames, ...GatewayFrames
]
