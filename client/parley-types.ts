/*
 * Inside this repository `@parley/types` resolves here (tsconfig.json `paths`): the very types
 * the published package is generated from (scripts/build-types.ts prints the same schemas), so
 * the SDK and the demo typecheck without a build step. Type-only: nothing is imported at run time.
 */
export type * from '../schemas/common.ts'
export type * from '../schemas/auth.ts'
export type * from '../schemas/users.ts'
export type * from '../schemas/groups.ts'
export type * from '../schemas/chat.ts'
export type * from '../schemas/events.ts'
export type * from '../schemas/ws.ts'
export type * from '../schemas/moderation.ts'
export type * from '../schemas/keys.ts'
export type * from '../schemas/ops.ts'
export type * from '../schemas/attachments.ts'
export type * from '../schemas/chat-management.ts'
export type * from '../schemas/notifications.ts'
