import type {
  DeleteNotificationResponse, ListNotificationsQuery, ListNotificationsResponse, MarkAllNotificationsReadResponse,
  MarkNotificationReadResponse, NotificationPreferences, UpdateNotificationPreferencesRequest
} from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /notifications: mentions, replies, reactions to your messages and additions to groups (live as the `notification` event). */
export function notificationsApi (call: Call) {
  return {
    /** Your notifications, newest first; `unread: true` for the unread ones, `cursor: nextCursor` for the next page. */
    list: async (query: Partial<ListNotificationsQuery> = {}) => await call<ListNotificationsResponse>('GET', '/notifications', { query }),
    markRead: async (id: string) => await call<MarkNotificationReadResponse>('PUT', pathOf('/notifications/{id}/read', { id })),
    markAllRead: async () => await call<MarkAllNotificationsReadResponse>('PUT', '/notifications/read-all'),
    remove: async (id: string) => await call<DeleteNotificationResponse>('DELETE', pathOf('/notifications/{id}', { id })),
    /** Which types notify you (all on by default). */
    preferences: async () => await call<NotificationPreferences>('GET', '/notifications/preferences'),
    /** Turns types on or off; the others keep their setting. */
    updatePreferences: async (body: UpdateNotificationPreferencesRequest) => await call<NotificationPreferences>('PUT', '/notifications/preferences', { body })
  }
}
