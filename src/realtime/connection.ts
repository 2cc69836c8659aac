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

/** Commands of one connection waiting or running; more are refused rather than queued. */
export const MAX_QUEUED_COMMANDS = 64
/**
 * Pipelined commands (sends) of one connection running at once: a sender's rate is not bounded
 * by one ack's round trip, and a stalled commit does not hold the sends queued behind it.
 */
export const MAX_PIPELINED_COMMANDS = 16
/** Groups one connection may subscribe to at once. */
export const MAX_SUBSCRIPTIONS = 500
/** A socket closed for not reading gets this long to take its close frame before it is dropped. */
export const CLOSE_TIMEOUT_MS = 5000

const TEXT_FRAME = { binary: false } as const
/** The turn of a command that runs alone: nothing runs beside it, so every step is in turn. */
const NO_TURN: CommandTurn = { inTurn: async (step) => step() }

export type ConnectionState = 'awaiting-auth' | 'authenticating' | 'ready' | 'closed'

/** A command waiting for its turn on the connection. */
interface QueuedCommand {
  run: (turn: CommandTurn) => Promise<void>
  pipelined: boolean
}

/**
 * Where a running command stands among the connection's pipelined commands: `inTurn` runs a
 * step once every pipelined command started before it has run its own (or ended), so what the
 * steps enqueue (a send's commit, which takes the group's next seq) is enqueued in arrival order.
 */
export interface CommandTurn {
  inTurn: <T>(step: () => T) => Promise<T>
}

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
  private readonly waiting: QueuedCommand[] = []
  /** Commands waiting or running. */
  private queued = 0
  private running = 0
  /** A command that runs alone is running. */
  private exclusive = false
  /** Settles when the last started pipelined command has run its step (or ended). */
  private lastTurn: Promise<void> = Promise.resolve()
  private idleWaiters: Array<() => void> = []

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

  /**
   * Queues a command; false when too many are waiting or running. Commands start in arrival
   * order. A command runs alone (after every command before it ended, and before any after it
   * starts) unless `pipelined`: consecutive pipelined commands run side by side, up to
   * MAX_PIPELINED_COMMANDS, and order what must stay ordered with `CommandTurn.inTurn`.
   */
  enqueue (run: (turn: CommandTurn) => Promise<void>, pipelined = false): boolean {
    if (this.queued >= MAX_QUEUED_COMMANDS) return false
    this.queued += 1
    this.waiting.push({ run, pipelined })
    this.startNext()
    return true
  }

  /** Resolves when every queued command has finished. */
  async idle (): Promise<void> {
    if (this.queued === 0) return
    await new Promise<void>((resolve) => { this.idleWaiters.push(resolve) })
  }

  private startNext (): void {
    while (this.waiting.length > 0 && !this.exclusive) {
      const next = this.waiting[0] as QueuedCommand
      if (next.pipelined ? this.running >= MAX_PIPELINED_COMMANDS : this.running > 0) return
      this.waiting.shift()
      this.running += 1
      if (!next.pipelined) this.exclusive = true
      void this.start(next)
    }
  }

  private async start (command: QueuedCommand): Promise<void> {
    let release = (): void => {}
    let turn: CommandTurn = NO_TURN
    if (command.pipelined) {
      const previous = this.lastTurn
      const mine = new Promise<void>((resolve) => { release = resolve })
      // A command that ends early does not let a later one step before an earlier one.
      this.lastTurn = previous.then(async () => { await mine })
      turn = {
        inTurn: async (step) => {
          await previous
          try {
            return step()
          } finally {
            release()
          }
        }
      }
    }
    try {
      // Started on a later microtask, as a promise chain would: never inside the caller's frame handler.
      await Promise.resolve()
      await command.run(turn)
    } catch {
      // A command answers its own errors (dispatch.ts); the queue only moves on.
    } finally {
      release()
      this.running -= 1
      this.queued -= 1
      if (!command.pipelined) this.exclusive = false
      this.startNext()
      if (this.queued === 0) this.wakeIdle()
    }
  }

  private wakeIdle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
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
