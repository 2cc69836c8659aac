import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { WebSocket } from '@fastify/websocket'
import type { AuthUser } from '../plugins/auth.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { WS_CLOSE_CODES } from '../../schemas/ws.ts'
import { ConnectionLimits } from './rate-limit.ts'
import { BlockedSenders } from './blocking.ts'
import { ClearedHistory } from './cleared-history.ts'
import type { OutboundFrame } from './outbound.ts'
import type { GroupSubscription } from './subscription.ts'

/** Commands of one connection waiting to run; more are refused rather than queued. */
export const MAX_QUEUED_COMMANDS = 64
/** Groups one connection may subscribe to at once. */
export const MAX_SUBSCRIPTIONS = 500
/** A socket closed for not reading gets this long to take its close frame before it is dropped. */
export const CLOSE_TIMEOUT_MS = 5000

const TEXT_FRAME = { binary: false } as const

export type ConnectionState = 'awaiting-auth' | 'authenticating' | 'ready' | 'closed'

export interface ActiveSubscription {
  subscription: GroupSubscription
  unsubscribe: () => void
}

/**
 * One WebSocket connection: its user, its subscriptions, its rate limits, its command queue
 * and a send path that never lets the socket's buffer pass the configured limit.
 */
export class Connection {
  readonly id = randomUUID()
  readonly socket: WebSocket
  readonly limits: ConnectionLimits
  readonly subscriptions = new Map<string, ActiveSubscription>()
  /** Groups this connection was just evicted from: a second notice of the same eviction is dropped. */
  readonly evicted = new Set<string>()
  /** Users this connection's user blocked: their events are not sent here (blocking.ts). */
  readonly blockedSenders = new BlockedSenders()
  /** The user's clear watermarks of the subscribed groups: replies quoting cleared messages lose their preview (cleared-history.ts). */
  readonly cleared = new ClearedHistory()
  state: ConnectionState = 'awaiting-auth'
  user: AuthUser | null = null
  /** True once presence counted this connection (so closing it must uncount it). */
  registered = false
  /** Answered a ping (or sent anything) since the last heartbeat. */
  alive = true
  /** False once the server drains: frames are refused, running commands finish. */
  acceptingFrames = true
  /** Set on a close caused by the send buffer, for logs and tests. */
  overflowed = false
  stopUserEvents: (() => void) | null = null
  authTimer: NodeJS.Timeout | null = null
  /** Closes the connection with 4001 when its credentials expire (moved by an in-place re-auth). */
  expiryTimer: NodeJS.Timeout | null = null
  /** An `auth` frame is being verified: the expiry waits for its outcome. */
  reauthenticating = false
  private readonly sendBufferLimit: number
  private queue: Promise<void> = Promise.resolve()
  private queued = 0

  constructor (socket: WebSocket, options: { rateLimitScale: number, sendBufferLimitBytes: number, clock?: Clock }) {
    this.socket = socket
    this.limits = new ConnectionLimits(options.rateLimitScale, options.clock ?? systemClock)
    this.sendBufferLimit = options.sendBufferLimitBytes
  }

  /** A method, not a property check, so callers re-read it after an await. */
  isClosed (): boolean {
    return this.state === 'closed'
  }

  get open (): boolean {
    return this.state !== 'closed' && this.socket.readyState === this.socket.OPEN && !this.overflowed
  }

  /**
   * Sends a serialized frame without waiting. When the socket's buffer passes the limit (a
   * client that stopped reading) the connection is closed with 1013: the server never holds
   * more than the limit for one client and never waits for one.
   *
   * The pre-built WebSocket frame goes straight to the TCP socket, one write of a Buffer shared
   * by every receiver: with no extension negotiated (permessage-deflate is off) ws's sender
   * queues nothing, so frames stay in order, and ws counts the socket's buffer in bufferedAmount.
   */
  sendFrame (frame: OutboundFrame): void {
    if (!this.open) return
    if (this.socket.bufferedAmount > this.sendBufferLimit) {
      this.closeForOverflow()
      return
    }
    const raw = this.rawSocket()
    if (raw !== null) raw.write(frame.wire)
    else this.socket.send(frame.json, TEXT_FRAME)
    if (this.socket.bufferedAmount > this.sendBufferLimit) this.closeForOverflow()
  }

  /** The TCP socket under the WebSocket when frames may be written to it directly, else null. */
  private rawSocket (): Duplex | null {
    if (this.socket.extensions !== '') return null
    return (this.socket as unknown as { _socket?: Duplex | null })._socket ?? null
  }

  /** Runs commands one after another in arrival order; false when too many are waiting. */
  enqueue (task: () => Promise<void>): boolean {
    if (this.queued >= MAX_QUEUED_COMMANDS) return false
    this.queued += 1
    this.queue = this.queue.then(task).catch(() => {}).finally(() => { this.queued -= 1 })
    return true
  }

  /** Resolves when every queued command has finished. */
  async idle (): Promise<void> {
    let seen: Promise<void>
    do {
      seen = this.queue
      await seen
    } while (seen !== this.queue)
  }

  /** Closes with a code; the socket is dropped if the client does not answer in time. */
  close (code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED) return
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason)
    const timer = setTimeout(() => { this.socket.terminate() }, CLOSE_TIMEOUT_MS)
    timer.unref()
    this.socket.once('close', () => { clearTimeout(timer) })
  }

  private closeForOverflow (): void {
    if (this.overflowed) return
    this.overflowed = true
    // The close frame queues behind what is buffered: a client that resumes reading gets it.
    this.close(WS_CLOSE_CODES.tryAgainLater, 'Send buffer full: reconnect and join with sinceSeq')
  }
}
