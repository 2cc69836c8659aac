import type { Migration } from 'kysely'
import * as foundation from './0001_foundation.ts'
import * as groupKeys from './0002_group_keys.ts'
import * as messages from './0003_messages.ts'
import * as searchTokensByGroup from './0004_search_tokens_by_group.ts'
import * as deliveredWatermarkIndex from './0005_delivered_watermark_index.ts'
import * as moderationAndKeys from './0007_moderation_and_keys.ts'
import * as attachments from './0008_attachments.ts'
import * as chatManagement from './0009_chat_management.ts'
import * as messagePower from './0010_message_power.ts'
import * as notifications from './0011_notifications.ts'
import * as groupMemberCount from './0012_group_member_count.ts'
import * as unreadExceptionIndexes from './0013_unread_exception_indexes.ts'

/** Every migration in order. Listed explicitly so the same code runs from .ts and from a build. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': foundation,
  '0002_group_keys': groupKeys,
  '0003_messages': messages,
  '0004_search_tokens_by_group': searchTokensByGroup,
  '0005_delivered_watermark_index': deliveredWatermarkIndex,
  '0007_moderation_and_keys': moderationAndKeys,
  '0008_attachments': attachments,
  '0009_chat_management': chatManagement,
  '0010_message_power': messagePower,
  '0011_notifications': notifications,
  '0012_group_member_count': groupMemberCount,
  '0013_unread_exception_indexes': unreadExceptionIndexes
}
