import type { TSchema } from '@sinclair/typebox'
import { commonSchemas } from './common.ts'
import { userSchemas } from './users.ts'
import { chatSchemas } from './chat.ts'
import { groupSchemas } from './groups.ts'
import { authSchemas } from './auth.ts'
import { wsSchemas } from './ws.ts'
import { moderationSchemas } from './moderation.ts'
import { keySchemas } from './keys.ts'
import { opsSchemas } from './ops.ts'
import { attachmentSchemas } from './attachments.ts'
import { chatManagementSchemas } from './chat-management.ts'
import { notificationSchemas } from './notifications.ts'

/** Every schema with an `$id`, registered once with the app and named in OpenAPI. */
export const sharedSchemas: TSchema[] = [
  ...commonSchemas,
  ...userSchemas,
  ...chatSchemas,
  ...groupSchemas,
  ...authSchemas,
  ...wsSchemas,
  ...moderationSchemas,
  ...keySchemas,
  ...opsSchemas,
  ...attachmentSchemas,
  ...chatManagementSchemas,
  ...notificationSchemas
]
