import {
  NOTIFICATION_LIMITS, type DeleteNotificationResponse, type ListNotificationsQuery, type ListNotificationsResponse,
  type MarkAllNotificationsReadResponse, type MarkNotificationReadResponse, type NotificationPreferences,
  type UpdateNotificationPreferencesRequest
} from '../../../schemas/notifications.ts'
import { notFound } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import { toNotification } from './notification-view.ts'
import type { NotificationRepository } from './repository.ts'

/** A user's own notifications: every operation is scoped to the caller, so another user's id is a 404. */

export async function listNotifications (repo: NotificationRepository, userId: number, query: ListNotificationsQuery): Promise<ListNotificationsResponse> {
  const limit = Math.min(Math.max(query.limit ?? NOTIFICATION_LIMITS.pageDefault, 1), NOTIFICATION_LIMITS.pageMax)
  const [rows, unreadCount] = await Promise.all([
    repo.page(userId, limit, query.cursor === undefined ? null : toBin(query.cursor), query.unread === true),
    repo.unreadCount(userId)
  ])
  const hasMore = rows.length > limit
  const notifications = rows.slice(0, limit).map(toNotification)
  return { notifications, hasMore, nextCursor: hasMore ? notifications[notifications.length - 1]?.id ?? null : null, unreadCount }
}

export async function markNotificationRead (repo: NotificationRepository, userId: number, id: string): Promise<MarkNotificationReadResponse> {
  const idBin = toBin(id)
  if (!await repo.markRead(userId, idBin, new Date())) throw notFound('Notification')
  const [view, unreadCount] = await Promise.all([repo.findView(userId, idBin), repo.unreadCount(userId)])
  if (view === null) throw notFound('Notification')
  return { notification: toNotification(view), unreadCount }
}

export async function markAllNotificationsRead (repo: NotificationRepository, userId: number): Promise<MarkAllNotificationsReadResponse> {
  return { marked: await repo.markAllRead(userId, new Date()), unreadCount: 0 }
}

export async function deleteNotification (repo: NotificationRepository, userId: number, id: string): Promise<DeleteNotificationResponse> {
  const idBin = toBin(id)
  if (!await repo.remove(userId, idBin)) throw notFound('Notification')
  return { deleted: true, id: fromBin(idBin) }
}

export async function notificationPreferences (repo: NotificationRepository, userId: number): Promise<NotificationPreferences> {
  const row = await repo.preferences(userId)
  if (row === null) return { mention: true, reply: true, reaction: true, addedToGroup: true }
  return { mention: row.mention, reply: row.reply, reaction: row.reaction, addedToGroup: row.added_to_group }
}

export async function updateNotificationPreferences (repo: NotificationRepository, userId: number, changes: UpdateNotificationPreferencesRequest): Promise<NotificationPreferences> {
  const current = await notificationPreferences(repo, userId)
  const next: NotificationPreferences = {
    mention: changes.mention ?? current.mention,
    reply: changes.reply ?? current.reply,
    reaction: changes.reaction ?? current.reaction,
    addedToGroup: changes.addedToGroup ?? current.addedToGroup
  }
  await repo.savePreferences(userId, { mention: next.mention, reply: next.reply, reaction: next.reaction, added_to_group: next.addedToGroup })
  return next
}
