import type { Notification } from '../../../schemas/notifications.ts'
import { fromBin } from '../../lib/ids.ts'
import type { NotificationView } from './repository.ts'

/** A stored notification as the API shows it. */
export function toNotification (view: NotificationView): Notification {
  return {
    id: fromBin(view.id),
    type: view.type,
    groupId: fromBin(view.group_id),
    groupName: view.group_name,
    messageId: view.message_id === null ? null : fromBin(view.message_id),
    actor: view.actor_user_id === null || view.actor_username === null
      ? null
      : { id: view.actor_user_id, username: view.actor_username, displayName: view.actor_display_name },
    mentionType: view.mention_type,
    emoji: view.emoji,
    isRead: view.read_at !== null,
    readAt: view.read_at === null ? null : view.read_at.toISOString(),
    createdAt: view.created_at.toISOString()
  }
}
