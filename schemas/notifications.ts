import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ref, uuid, userId, isoDateTime } from './common.ts'

/*
 * Notifications (DESIGN §4 "notifications"): stored per user for a mention of them or of
 * @everyone, a reply to their message, a reaction to their message, and being added to a group.
 * Listed and marked read over REST, pushed live as the `notification` WebSocket event, and, for
 * a recipient with no live connection, posted to PUSH_WEBHOOK_URL (`PushWebhookPayload`).
 * Notifications carry no message content: clients fetch the message over REST.
 */

const UserIdInt = userId()
const IsoTime = isoDateTime()
const Id = uuid()

export const NOTIFICATION_LIMITS = {
  pageDefault: 20,
  pageMax: 100
} as const

export const NotificationType = Type.Union([
  Type.Literal('mention'), Type.Literal('reply'), Type.Literal('reaction'), Type.Literal('added_to_group')
], {
  $id: 'NotificationType',
  description: 'mention: you or @everyone were mentioned; reply: a reply to your message; reaction: a reaction to your message; added_to_group: someone added you to a group'
})
export type NotificationType = Static<typeof NotificationType>

export const NotificationActor = Type.Object({
  id: UserIdInt,
  username: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()])
}, { $id: 'NotificationActor', description: 'Who caused the notification' })
export type NotificationActor = Static<typeof NotificationActor>

export const Notification = Type.Object({
  id: Id,
  type: Ref(NotificationType),
  groupId: Id,
  groupName: Type.String(),
  messageId: Type.Union([Id, Type.Null()], { description: 'The message mentioning you, replying to you, or reacted to (yours); null for added_to_group' }),
  actor: Type.Union([Ref(NotificationActor), Type.Null()], { description: 'null when that user no longer exists' }),
  mentionType: Type.Union([Type.Literal('user'), Type.Literal('everyone'), Type.Null()], { description: 'For mention: whether you or @everyone were named' }),
  emoji: Type.Union([Type.String(), Type.Null()], { description: 'For reaction: the emoji' }),
  isRead: Type.Boolean(),
  readAt: Type.Union([IsoTime, Type.Null()]),
  createdAt: IsoTime
}, { $id: 'Notification' })
export type Notification = Static<typeof Notification>

/** GET /notifications */
export const ListNotificationsQuery = Type.Object({
  cursor: Type.Optional(uuid({ description: 'The nextCursor of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: NOTIFICATION_LIMITS.pageMax, default: NOTIFICATION_LIMITS.pageDefault })),
  unread: Type.Optional(Type.Boolean({ description: 'true: unread notifications only' }))
}, { $id: 'ListNotificationsQuery', additionalProperties: false })
export type ListNotificationsQuery = Static<typeof ListNotificationsQuery>

export const ListNotificationsResponse = Type.Object({
  notifications: Type.Array(Ref(Notification), { description: 'Newest first' }),
  hasMore: Type.Boolean(),
  nextCursor: Type.Union([Id, Type.Null()], { description: 'Pass as cursor for the next (older) page; null on the last page' }),
  unreadCount: Type.Integer({ minimum: 0, description: 'All your unread notifications' })
}, { $id: 'ListNotificationsResponse' })
export type ListNotificationsResponse = Static<typeof ListNotificationsResponse>

export const NotificationIdParams = Type.Object({ id: uuid() })
export type NotificationIdParams = Static<typeof NotificationIdParams>

/** PUT /notifications/:id/read */
export const MarkNotificationReadResponse = Type.Object({
  notification: Ref(Notification),
  unreadCount: Type.Integer({ minimum: 0 })
}, { $id: 'MarkNotificationReadResponse' })
export type MarkNotificationReadResponse = Static<typeof MarkNotificationReadResponse>

/** PUT /notifications/read-all */
export const MarkAllNotificationsReadResponse = Type.Object({
  marked: Type.Integer({ minimum: 0, description: 'Notifications that were unread' }),
  unreadCount: Type.Literal(0)
}, { $id: 'MarkAllNotificationsReadResponse' })
export type MarkAllNotificationsReadResponse = Static<typeof MarkAllNotificationsReadResponse>

/** DELETE /notifications/:id */
export const DeleteNotificationResponse = Type.Object({
  deleted: Type.Literal(true),
  id: Id
}, { $id: 'DeleteNotificationResponse' })
export type DeleteNotificationResponse = Static<typeof DeleteNotificationResponse>

/** GET /notifications/preferences: which types create notifications for you (all on by default). */
export const NotificationPreferences = Type.Object({
  mention: Type.Boolean(),
  reply: Type.Boolean(),
  reaction: Type.Boolean(),
  addedToGroup: Type.Boolean()
}, { $id: 'NotificationPreferences', description: 'Per type on/off; a chat\'s notificationLevel and mute apply on top' })
export type NotificationPreferences = Static<typeof NotificationPreferences>

/** PUT /notifications/preferences: the types to change. */
export const UpdateNotificationPreferencesRequest = Type.Object({
  mention: Type.Optional(Type.Boolean()),
  reply: Type.Optional(Type.Boolean()),
  reaction: Type.Optional(Type.Boolean()),
  addedToGroup: Type.Optional(Type.Boolean())
}, { $id: 'UpdateNotificationPreferencesRequest', additionalProperties: false, minProperties: 1 })
export type UpdateNotificationPreferencesRequest = Static<typeof UpdateNotificationPreferencesRequest>

/**
 * The JSON body POSTed to PUSH_WEBHOOK_URL for a recipient with no live connection. Signed:
 * `X-Parley-Signature: sha256=<hex HMAC-SHA256 of the raw body with PUSH_WEBHOOK_SECRET>`;
 * `X-Parley-Event-Id` equals `eventId` and stays the same across retries (deduplicate on it);
 * `X-Parley-Timestamp` and `timestamp` are the time of this attempt (reject old ones).
 */
export const PushWebhookPayload = Type.Object({
  eventId: Id,
  type: Type.Literal('notification'),
  timestamp: Type.Integer({ description: 'Seconds since the epoch when this attempt was signed; equals X-Parley-Timestamp' }),
  userId: UserIdInt,
  notification: Type.Object({
    id: Id,
    type: Ref(NotificationType),
    groupId: Id,
    groupName: Type.String(),
    messageId: Type.Union([Id, Type.Null()]),
    actor: Type.Union([Ref(NotificationActor), Type.Null()]),
    mentionType: Type.Union([Type.Literal('user'), Type.Literal('everyone'), Type.Null()]),
    emoji: Type.Union([Type.String(), Type.Null()]),
    createdAt: IsoTime
  }),
  preview: Type.Optional(Type.String({
    description: 'The first 100 characters of the message: only when WS_BROADCAST_CONTENT is on and the recipient shows previews in that chat'
  }))
}, { $id: 'PushWebhookPayload' })
export type PushWebhookPayload = Static<typeof PushWebhookPayload>

export const notificationSchemas: TSchema[] = [
  NotificationType, NotificationActor, Notification, ListNotificationsQuery, ListNotificationsResponse, MarkNotificationReadResponse,
  MarkAllNotificationsReadResponse, DeleteNotificationResponse, NotificationPreferences, UpdateNotificationPreferencesRequest,
  PushWebhookPayload
]
