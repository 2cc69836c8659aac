/**
 * @parley/client: the typed client of the Parley chat API for browsers and Node 22+.
 * See ParleyClient for the whole story in ten lines.
 */
export { ParleyClient, type ParleyClientOptions } from './client.ts'
export { ParleyError, type ParleyErrorCode, type ClientErrorCode } from './errors.ts'
export type { ClientEvents, FrameEvents, SdkEvents } from './events.ts'
export type { ConnectionState, ReconnectOptions, HeartbeatOptions } from './connection.ts'
export type { GroupPosition } from './delivery.ts'
export { webStorageOutbox, type OutboxEntry, type OutboxStorage } from './outbox.ts'
export type { SessionTokens } from './session.ts'
export type { RestApi } from './rest/index.ts'
export type { FetchLike, WebSocketConstructor, WebSocketLike, NetworkMonitor, BlobLike } from './platform.ts'
export type { UploadOptions } from './rest/attachments.ts'
export { backoffDelay, type BackoffOptions } from './backoff.ts'
