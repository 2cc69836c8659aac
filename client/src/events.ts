import type { ChatMessage, SendMessageAck, ServerFrame } from '@parley/types'
import type { ConnectionState } from './connection.ts'
import type { ParleyError } from './errors.ts'
import type { OutboxEntry } from './outbox.ts'
import type { SessionTokens } from './session.ts'

/**
 * One event per server frame type, named by the type and carrying the frame's payload:
 * `client.on('chat:typing', (typing) => …)`. These are the frames as they arrive; for messages
 * listen to `message`, which is deduplicated and ordered.
 */
export type FrameEvents = { [F in ServerFrame as F['type']]: F['payload'] }

/** What the client itself tells the application. */
export interface SdkEvents {
  /** Each message of a joined group exactly once, in seq order per group, across reconnects. */
  message: ChatMessage
  /** A message already delivered was edited: the message as it now reads. */
  messageEdited: ChatMessage
  /** A socket is open and its groups are being rejoined; `reconnect` is false for the first one. */
  connected: { reconnect: boolean }
  disconnected: { code: number, reason: string, willReconnect: boolean }
  reconnecting: { attempt: number, delayMs: number }
  state: ConnectionState
  /** The session is over (a refresh was refused, or a 4001 persisted after one): sign in again. */
  authFailed: ParleyError
  /** New tokens are in place (sign-in, refresh): persist them to resume the session later. */
  tokens: SessionTokens
  /** A group can no longer be followed (the join was refused, or access was lost). */
  groupUnavailable: { groupId: string, error: ParleyError }
  /** A queued message was stored by the server. */
  sent: { entry: OutboxEntry, ack: SendMessageAck }
  /** A queued message was refused for good (invalid, no access): it left the outbox. */
  sendFailed: { entry: OutboxEntry, error: ParleyError }
  /** The outbox changed: the messages still waiting, oldest first. */
  outbox: readonly OutboxEntry[]
  /** Something failed that no promise reports (a persisted outbox could not be written…). */
  error: ParleyError
}

export type ClientEvents = FrameEvents & SdkEvents
