import type { Call } from '../http.ts'
import { adminApi } from './admin.ts'
import { attachmentsApi } from './attachments.ts'
import { authApi } from './auth.ts'
import { chatApi } from './chat.ts'
import { groupsApi } from './groups.ts'
import { keysApi } from './keys.ts'
import { notificationsApi } from './notifications.ts'
import { presenceApi } from './presence.ts'
import { usersApi } from './users.ts'

/**
 * Every REST endpoint as a typed method, by area: `rest.chat.listMessages(groupId, { limit })`.
 * An endpoint is one line in its area's file: its method, path, request and answer types.
 * `baseUrl` (the API's origin) makes the attachment URL helpers absolute.
 */
export function restApi (call: Call, baseUrl = '') {
  return {
    auth: authApi(call),
    users: usersApi(call),
    groups: groupsApi(call),
    chat: chatApi(call),
    presence: presenceApi(call),
    keys: keysApi(call),
    admin: adminApi(call),
    attachments: attachmentsApi(call, baseUrl),
    notifications: notificationsApi(call)
  }
}

export type RestApi = ReturnType<typeof restApi>
