import type { AckPayload, ServerFrame } from '@parley/types'
import { backoffDelay, type BackoffOptions } from './backoff.ts'
import { ParleyError, toParleyError } from './errors.ts'
import {
  clearTimer, randomId, setTimer, type NetworkMonitor, type TimerHandle, type WebSocketConstructor, type WebSocketLike
} from './platform.ts'

/** The socket's state as the application sees it. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped'

/** Close codes of the contract (seed 01 §5.2, DESIGN §5). */
export const CLOSE_CODES = { authFailed: 4001, forbidden: 4003, rateLimited: 4429, tryAgainLater: 1013 } as const

export interface ReconnectOptions extends BackoffOptions {
  /** The least wait after a 4429 close (rate limited, or too many connections), ms. */
  rateLimitedMs: number
}

export interface HeartbeatOptions {
  /** A `ping` frame goes out after this long without a frame from the server, ms. */
  intervalMs: number
  /** A connection that answers nothing this long after a ping is dead and replaced, ms. */
  timeoutMs: number
}

export interface ConnectionOptions {
  /** `ws(s)://host/mirror/groups/chat`, without a query. */
  url: string
  WebSocket: WebSocketConstructor
  reconnect: ReconnectOptions
  heartbeat: HeartbeatOptions
  /** A command unanswered this long is failed with TIMEOUT, ms. */
  requestTimeoutMs: number
  network: NetworkMonitor | null
  /** A single-use ticket for `?ticket=` (POST /auth/ws-ticket); rejects UNAUTHORIZED when the session is over. */
  ticket: () => Promise<string>
  /** After a 4001 close: renew the access token; false when the session is over. */
  renewSession: () => Promise<boolean>
  onOpen: () => void
  onFrame: (frame: ServerFrame) => void
  onClose: (info: { code: number, reason: string, willReconnect: boolean }) => void
  onReconnecting: (info: { attempt: number, delayMs: number }) => void
  /** The connection will not be retried: 'auth' after a 4001 that a token refresh did not cure, 'forbidden' after a 4003. */
  onGiveUp: (reason: 'auth' | 'forbidden', error: ParleyError) => void
  onState: (state: ConnectionState) => void
}

interface Pending {
  resolve: (payload: AckPayload) => void
  reject: (error: ParleyError) => void
  timer: TimerHandle
}

/**
 * One logical realtime connection over successive WebSockets: authenticates each with a fresh
 * single-use ticket (never a JWT in the URL), reconnects with exponential backoff and jitter,
 * honours the close codes, detects dead sockets with a heartbeat, and correlates commands with
 * their `chat:ack` / `chat:error` by requestId.
 */
export class Connection {
  private readonly options: ConnectionOptions
  private socket: WebSocketLike | null = null
  private stateValue: ConnectionState = 'idle'
  private attempt = 0
  /** A 4001 was answered with a token refresh and no connection has succeeded since. */
  private renewedAfterAuthFailure = false
  /** The current socket has delivered a frame (it was admitted). */
  private admitted = false
  private reconnectTimer: TimerHandle | null = null
  private pingTimer: TimerHandle | null = null
  private pongTimer: TimerHandle | null = null
  private readonly pending = new Map<string, Pending>()
  private unwatchNetwork: (() => void) | null = null
  /** Bumped on every open and stop, so a stale ticket or socket callback changes nothing. */
  private generation = 0

  constructor (options: ConnectionOptions) {
    this.options = options
  }

  get state (): ConnectionState {
    return this.stateValue
  }

  get isOpen (): boolean {
    return this.stateValue === 'open'
  }

  /** Starts connecting (and reconnecting); a no-op while already started. */
  start (): void {
    if (this.stateValue !== 'idle' && this.stateValue !== 'stopped') return
    this.attempt = 0
    this.renewedAfterAuthFailure = false
    this.unwatchNetwork ??= this.options.network?.watch(() => { this.online() }, () => { this.offline() }) ?? null
    void this.open()
  }

  /** Closes the socket and stops reconnecting; pending commands fail with CONNECTION_CLOSED. */
  stop (): void {
    this.generation += 1
    clearTimer(this.reconnectTimer)
    this.reconnectTimer = null
    this.unwatchNetwork?.()
    this.unwatchNetwork = null
    const socket = this.detach()
    socket?.close(1000, 'Client closed')
    this.failPending('The connection was closed')
    this.setState('stopped')
  }

  /** Sends a frame if the socket is open; false otherwise (typing, presence: not worth queueing). */
  send (frame: object): boolean {
    if (this.socket === null || this.stateValue !== 'open') return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Sends a command and resolves with its chat:ack payload, or rejects with its chat:error. */
  async request (frame: { type: string, payload?: unknown, token?: string }): Promise<AckPayload> {
    if (this.socket === null || this.stateValue !== 'open') {
      throw new ParleyError({ code: 'CONNECTION_CLOSED', message: 'Not connected' })
    }
    const requestId = randomId()
    return await new Promise<AckPayload>((resolve, reject) => {
      const timer = setTimer(() => {
        this.pending.delete(requestId)
        reject(new ParleyError({ code: 'TIMEOUT', message: `${frame.type} was not answered within ${this.options.requestTimeoutMs} ms` }))
      }, this.options.requestTimeoutMs)
      this.pending.set(requestId, { resolve, reject, timer })
      this.send({ ...frame, requestId })
    })
  }

  private setState (state: ConnectionState): void {
    if (this.stateValue === state) return
    this.stateValue = state
    this.options.onState(state)
  }

  private async open (): Promise<void> {
    const generation = ++this.generation
    this.setState(this.attempt === 0 && !this.admitted ? 'connecting' : 'reconnecting')
    let ticket: string
    try {
      ticket = await this.options.ticket()
    } catch (err) {
      if (generation !== this.generation) return
      const error = toParleyError(err)
      // The HTTP layer already tried a refresh: an UNAUTHORIZED here means the session is over.
      if (error.code === 'UNAUTHORIZED') this.giveUp('auth', error)
      else this.scheduleReconnect(0)
      return
    }
    if (generation !== this.generation) return
    let socket: WebSocketLike
    try {
      socket = new this.options.WebSocket(`${this.options.url}?ticket=${encodeURIComponent(ticket)}`)
    } catch (err) {
      this.options.onClose({ code: 1006, reason: toParleyError(err).message, willReconnect: true })
      this.scheduleReconnect(0)
      return
    }
    this.socket = socket
    this.admitted = false
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.setState('open')
      this.schedulePing()
      this.options.onOpen()
    }
    socket.onmessage = (event) => { if (this.socket === socket) this.received(event.data) }
    socket.onclose = (event) => { if (this.socket === socket) this.closed(event.code, event.reason) }
    socket.onerror = () => { /* a close event follows */ }
  }

  private received (data: unknown): void {
    if (!this.admitted) {
      // The server speaks: the connection was accepted, so the next drop starts the backoff over.
      this.admitted = true
      this.attempt = 0
      this.renewedAfterAuthFailure = false
    }
    this.schedulePing()
    if (typeof data !== 'string') return
    let frame: ServerFrame
    try {
      frame = JSON.parse(data) as ServerFrame
    } catch {
      return
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return
    const requestId = (frame as { requestId?: unknown }).requestId
    if (typeof requestId === 'string' && (frame.type === 'chat:ack' || frame.type === 'chat:error')) {
      const pending = this.pending.get(requestId)
      if (pending !== undefined) {
        this.pending.delete(requestId)
        clearTimer(pending.timer)
        if (frame.type === 'chat:ack') pending.resolve(frame.payload)
        else pending.reject(ParleyError.fromEnvelope({ error: frame.payload.error, code: frame.payload.code ?? 'INTERNAL_ERROR', details: frame.payload.details, validationErrors: frame.payload.validationErrors }))
      }
    }
    this.options.onFrame(frame)
  }

  /** Takes the current socket out of service without waiting for its close event. */
  private detach (): WebSocketLike | null {
    const socket = this.socket
    this.socket = null
    clearTimer(this.pingTimer)
    clearTimer(this.pongTimer)
    this.pingTimer = null
    this.pongTimer = null
    if (socket !== null) {
      socket.onopen = null
      socket.onmessage = null
      socket.onclose = null
      socket.onerror = null
    }
    return socket
  }

  private failPending (message: string): void {
    for (const [requestId, pending] of this.pending) {
      this.pending.delete(requestId)
      clearTimer(pending.timer)
      pending.reject(new ParleyError({ code: 'CONNECTION_CLOSED', message }))
    }
  }

  private closed (code: number, reason: string): void {
    this.detach()
    this.failPending(`The connection closed (${code})`)
    if (this.stateValue === 'stopped') return
    if (code === CLOSE_CODES.forbidden) {
      this.options.onClose({ code, reason, willReconnect: false })
      this.giveUp('forbidden', new ParleyError({ code: 'FORBIDDEN', message: reason || 'Origin not allowed' }))
      return
    }
    this.options.onClose({ code, reason, willReconnect: true })
    if (code === CLOSE_CODES.authFailed) {
      void this.renewAfterAuthFailure(reason)
      return
    }
    this.scheduleReconnect(code === CLOSE_CODES.rateLimited ? this.options.reconnect.rateLimitedMs : 0)
  }

  /** 4001: the token was refused. Refresh it once and reconnect; a second 4001 in a row gives up. */
  private async renewAfterAuthFailure (reason: string): Promise<void> {
    const failure = new ParleyError({ code: 'UNAUTHORIZED', message: reason || 'Authentication failed' })
    if (this.renewedAfterAuthFailure) {
      this.giveUp('auth', failure)
      return
    }
    this.renewedAfterAuthFailure = true
    const generation = this.generation
    let renewed: boolean
    try {
      renewed = await this.options.renewSession()
    } catch {
      // No network for the refresh: back off and try the whole thing again.
      if (generation === this.generation) {
        this.renewedAfterAuthFailure = false
        this.scheduleReconnect(0)
      }
      return
    }
    if (generation !== this.generation) return
    if (renewed) void this.open()
    else this.giveUp('auth', failure)
  }

  private giveUp (reason: 'auth' | 'forbidden', error: ParleyError): void {
    this.stop()
    this.options.onGiveUp(reason, error)
  }

  private scheduleReconnect (minimumMs: number): void {
    const attempt = this.attempt
    this.attempt += 1
    const delayMs = Math.max(minimumMs, backoffDelay(attempt, this.options.reconnect))
    this.setState('reconnecting')
    this.options.onReconnecting({ attempt: attempt + 1, delayMs })
    clearTimer(this.reconnectTimer)
    this.reconnectTimer = setTimer(() => {
      this.reconnectTimer = null
      void this.open()
    }, delayMs)
  }

  /** The device is back online: reconnect now rather than at the end of the backoff. */
  private online (): void {
    if (this.stateValue !== 'reconnecting' || this.reconnectTimer === null) return
    clearTimer(this.reconnectTimer)
    this.reconnectTimer = null
    this.attempt = 0
    void this.open()
  }

  /** The device lost its network: the socket is dead even if it does not know it yet. */
  private offline (): void {
    if (this.socket === null) return
    const socket = this.detach()
    socket?.close(1000, 'Offline')
    this.closed(1006, 'The device went offline')
  }

  private schedulePing (): void {
    clearTimer(this.pingTimer)
    clearTimer(this.pongTimer)
    this.pongTimer = null
    const socket = this.socket
    this.pingTimer = setTimer(() => {
      if (this.socket !== socket || socket === null) return
      this.send({ type: 'ping', payload: {} })
      this.pongTimer = setTimer(() => {
        if (this.socket !== socket) return
        this.detach()
        socket.close(1000, 'No answer to ping')
        this.closed(1006, 'The server stopped answering')
      }, this.options.heartbeat.timeoutMs)
    }, this.options.heartbeat.intervalMs)
  }
}
