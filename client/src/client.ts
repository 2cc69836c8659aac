import type {
  AuthTokens, DeviceType, LoginRequest, PresenceStatus, PublicUser, RegisterRequest, SendMessageAck, SendMessageRequest, ServerFrame
} from '@parley/types'
import { DEFAULT_BACKOFF } from './backoff.ts'
import { Connection, type ConnectionState, type HeartbeatOptions, type ReconnectOptions } from './connection.ts'
import { GroupStream, type GroupPosition } from './delivery.ts'
import { Emitter, type Listener } from './emitter.ts'
import { ParleyError, toParleyError } from './errors.ts'
import type { ClientEvents } from './events.ts'
import { Http } from './http.ts'
import { Outbox, type OutboxEntry, type OutboxStorage } from './outbox.ts'
import { Pacer } from './pacer.ts'
import {
  platformFetch, platformNetwork, platformOrigin, platformWebSocket, setTimer,
  type FetchLike, type NetworkMonitor, type WebSocketConstructor
} from './platform.ts'
import { restApi, type RestApi } from './rest/index.ts'
import { Session, type SessionTokens } from './session.ts'

export interface ParleyClientOptions {
  /** The server's origin, e.g. `https://chat.example.com`; in a browser, the page's origin by default. */
  baseUrl?: string
  /** Path prefix of the REST API (the server's API_PREFIX). Default `/mirror/api`. */
  apiPrefix?: string
  /** Path of the WebSocket (the server's WS_PATH). Default `/mirror/groups/chat`. */
  wsPath?: string
  /** The full WebSocket URL when it is not `baseUrl` + `wsPath` with ws(s):. */
  wsUrl?: string
  /** Tokens of an earlier session to resume (as the `tokens` event gave them). */
  session?: SessionTokens | null
  fetch?: FetchLike
  WebSocket?: WebSocketConstructor
  outbox?: {
    /** Keeps unsent messages across restarts (one storage per user); none by default. */
    storage?: OutboxStorage | null
    /** Unsent messages at most; a send past it fails with OUTBOX_FULL. Default 500. */
    maxEntries?: number
  }
  reconnect?: Partial<ReconnectOptions>
  heartbeat?: Partial<HeartbeatOptions>
  /** REST requests and socket commands unanswered this long fail with TIMEOUT. Default 30 s. */
  requestTimeoutMs?: number
  /** Online/offline notifications; the browser's by default, none in Node. */
  network?: NetworkMonitor | null
}

const DEFAULT_RECONNECT: ReconnectOptions = { ...DEFAULT_BACKOFF, rateLimitedMs: 5000 }
const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 25_000, timeoutMs: 10_000 }
/** Joins sent per second at most: under the server's join bucket (20/s per connection) and its 50 frames/s. */
const JOINS_PER_SECOND = 15
/** A join refused with these codes will not be accepted later either. */
const JOIN_REFUSALS = new Set(['FORBIDDEN', 'NOT_FOUND', 'VALIDATION_ERROR'])

/**
 * The Parley client: typed REST (`client.rest`), and a realtime connection that delivers each
 * message of the joined groups exactly once and in order across reconnects, queues sends while
 * offline and keeps the session's tokens fresh (on the open socket too).
 *
 * ```ts
 * const client = new ParleyClient({ baseUrl: 'http://127.0.0.1:3000' })
 * await client.login({ username: 'alice', password })
 * client.on('message', (m) => { console.log(m.seq, m.senderUsername, m.content) })
 * await client.connect()
 * await client.joinGroup(groupId)
 * await client.send(groupId, { content: 'Hello' })
 * ```
 */
export class ParleyClient {
  /** Every REST endpoint, typed: `client.rest.groups.list()`. */
  readonly rest: RestApi
  private readonly events = new Emitter<ClientEvents>()
  private readonly session: Session
  private readonly connection: Connection
  private readonly outbox: Outbox
  private readonly streams = new Map<string, GroupStream>()
  private readonly joins = new Map<string, Array<{ resolve: () => void, reject: (error: ParleyError) => void }>>()
  /** Groups whose join was sent on the current socket: 'pending' until acknowledged. */
  private readonly subscriptions = new Map<string, 'pending' | 'joined'>()
  private readonly backoff: ReconnectOptions
  private readonly joinPacer = new Pacer(JOINS_PER_SECOND)
  private connectedBefore = false
  private closed = false
  /** authFailed was told for the current session (the HTTP layer and the socket may both find out). */
  private sessionOver = false

  constructor (options: ParleyClientOptions = {}) {
    const baseUrl = (options.baseUrl ?? platformOrigin() ?? '').replace(/\/+$/, '')
    if (baseUrl === '') throw new ParleyError({ code: 'VALIDATION_ERROR', message: 'baseUrl is required outside a browser' })
    const fetch = options.fetch ?? platformFetch()
    if (fetch === undefined) throw new ParleyError({ code: 'VALIDATION_ERROR', message: 'No fetch: pass options.fetch' })
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    const reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect }
    this.backoff = reconnect

    this.session = new Session({
      refresh: async (refreshToken) => await this.rest.auth.refresh(refreshToken),
      onTokens: (tokens) => { this.tokensChanged(tokens) },
      onEnded: (error) => { this.sessionEnded(error) }
    })
    const http = new Http({ baseUrl, apiPrefix: options.apiPrefix ?? '/mirror/api', fetch, session: this.session, timeoutMs: requestTimeoutMs })
    this.rest = restApi(http.call, baseUrl)
    this.connection = this.createConnection(options, baseUrl, reconnect, requestTimeoutMs)
    this.outbox = new Outbox({
      maxEntries: options.outbox?.maxEntries ?? 500,
      storage: options.outbox?.storage ?? null,
      backoff: reconnect,
      transmit: async (entry) => await this.transmit(entry),
      canTransmit: () => this.connection.isOpen,
      onSent: (entry, ack) => {
        // The ack is the delivery of one's own send: the stream fetches it in its place.
        this.streams.get(entry.groupId)?.advance(ack.seq)
        this.events.emit('sent', { entry, ack })
      },
      onRefused: (entry, error) => { this.events.emit('sendFailed', { entry, error }) },
      onChange: (entries) => { this.events.emit('outbox', entries) },
      onStorageError: (error) => { this.events.emit('error', error) }
    })
    if (options.session !== undefined && options.session !== null) this.session.set(options.session)
  }

  private createConnection (options: ParleyClientOptions, baseUrl: string, reconnect: ReconnectOptions, requestTimeoutMs: number): Connection {
    const WebSocket = options.WebSocket ?? platformWebSocket()
    return new Connection({
      url: options.wsUrl ?? `${baseUrl.replace(/^http/, 'ws')}${options.wsPath ?? '/mirror/groups/chat'}`,
      WebSocket: WebSocket ?? class { constructor () { throw new Error('No WebSocket: pass options.WebSocket') } } as unknown as WebSocketConstructor,
      reconnect,
      heartbeat: { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
      requestTimeoutMs,
      network: options.network === undefined ? platformNetwork() : options.network,
      ticket: async () => (await this.rest.auth.wsTicket()).ticket,
      renewSession: async () => await this.session.refresh(),
      onOpen: () => { this.opened() },
      onFrame: (frame) => { this.received(frame) },
      onClose: (info) => {
        this.subscriptions.clear()
        this.events.emit('disconnected', info)
      },
      onReconnecting: (info) => { this.events.emit('reconnecting', info) },
      onGiveUp: (reason, error) => {
        if (reason === 'auth') this.sessionEnded(error)
        else this.events.emit('error', error)
      },
      onState: (state) => { this.events.emit('state', state) }
    })
  }

  // ---- events ----

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents> (type: K, listener: Listener<ClientEvents, K>): () => void {
    return this.events.on(type, listener)
  }

  once<K extends keyof ClientEvents> (type: K, listener: Listener<ClientEvents, K>): () => void {
    return this.events.once(type, listener)
  }

  off<K extends keyof ClientEvents> (type: K, listener: Listener<ClientEvents, K>): void {
    this.events.off(type, listener)
  }

  // ---- session ----

  get user (): PublicUser | null {
    return this.session.tokens?.user ?? null
  }

  /** The current tokens (persist them from the `tokens` event to resume a session). */
  get tokens (): SessionTokens | null {
    return this.session.tokens
  }

  async register (body: RegisterRequest): Promise<AuthTokens> {
    const tokens = await this.rest.auth.register(body)
    this.session.set(tokens)
    return tokens
  }

  async login (body: LoginRequest): Promise<AuthTokens> {
    const tokens = await this.rest.auth.login(body)
    this.session.set(tokens)
    return tokens
  }

  /** Resumes a session from stored tokens (the access token may have expired: it is refreshed when needed). */
  useSession (tokens: SessionTokens): void {
    this.session.set(tokens)
  }

  /** Ends the session on the server and here: the socket closes and the outbox is emptied. */
  async logout (): Promise<void> {
    try {
      if (this.session.accessToken !== null) await this.rest.auth.logout()
    } finally {
      this.disconnect()
      this.outbox.clear()
      this.session.clear()
    }
  }

  // ---- realtime ----

  get state (): ConnectionState {
    return this.connection.state
  }

  /**
   * Opens the realtime connection (kept open and reconnected until `disconnect()`). Resolves
   * once a socket is open; rejects if the session is over.
   */
  async connect (): Promise<void> {
    if (this.closed) throw new ParleyError({ code: 'CLIENT_CLOSED', message: 'The client is closed' })
    await this.outbox.restore()
    if (this.connection.isOpen) return
    const opened = new Promise<void>((resolve, reject) => {
      const offConnected = this.events.once('connected', () => { offFailed(); resolve() })
      const offFailed = this.events.once('authFailed', (error) => { offConnected(); reject(error) })
    })
    this.connection.start()
    await opened
  }

  /** Closes the socket and stops reconnecting; joined groups and queued sends are kept for the next `connect()`. */
  disconnect (): void {
    this.connection.stop()
    this.subscriptions.clear()
  }

  /** Disconnects for good and releases every timer; the client cannot be used again. */
  close (): void {
    this.closed = true
    this.disconnect()
    this.session.close()
    this.outbox.close()
    for (const stream of this.streams.values()) stream.close()
    this.streams.clear()
    this.rejectJoins(new ParleyError({ code: 'CLIENT_CLOSED', message: 'The client is closed' }))
    this.events.removeAll()
  }

  /**
   * Follows a group: its messages arrive as `message` events, exactly once and in order, from
   * `from` (a position saved from `position()`) or, without it, from the moment of the join.
   * Resolves when the server confirmed the subscription (at the next connection if offline).
   */
  async joinGroup (groupId: string, from?: GroupPosition | { seq: number }): Promise<void> {
    let stream = this.streams.get(groupId)
    if (stream === undefined) {
      const position = from === undefined ? null : { seq: from.seq, messageId: 'messageId' in from ? from.messageId : null }
      stream = this.createStream(groupId, position)
      this.streams.set(groupId, stream)
    } else if (this.subscriptions.get(groupId) === 'joined') {
      return
    }
    const joined = new Promise<void>((resolve, reject) => {
      const waiting = this.joins.get(groupId) ?? []
      waiting.push({ resolve, reject })
      this.joins.set(groupId, waiting)
    })
    if (this.connection.isOpen && !this.subscriptions.has(groupId)) this.subscribe(stream)
    await joined
  }

  /** Stops following a group. */
  leaveGroup (groupId: string): void {
    const stream = this.streams.get(groupId)
    if (stream === undefined) return
    stream.close()
    this.streams.delete(groupId)
    this.subscriptions.delete(groupId)
    this.settleJoin(groupId, new ParleyError({ code: 'CONNECTION_CLOSED', message: 'The group was left' }))
    this.connection.send({ type: 'chat:leave_group', payload: { groupId } })
  }

  /** The groups being followed. */
  get joinedGroups (): string[] {
    return [...this.streams.keys()]
  }

  /** Where a followed group's delivery stands; pass it to `joinGroup` to resume there later. */
  position (groupId: string): GroupPosition | null {
    return this.streams.get(groupId)?.delivered ?? null
  }

  /**
   * Sends a message through the outbox: queued with a clientMessageId (yours or a new one),
   * sent when connected, retried until the server stores it. Resolves with the ack.
   */
  async send (groupId: string, message: SendMessageRequest): Promise<SendMessageAck> {
    return await this.outbox.enqueue(groupId, message)
  }

  /** The messages waiting to be stored, oldest first (show them as "sending…"). */
  get pending (): readonly OutboxEntry[] {
    return this.outbox.entries
  }

  /** Tells the group the user is (not) typing; dropped while disconnected. */
  typing (groupId: string, isTyping: boolean): boolean {
    return this.connection.send({ type: isTyping ? 'chat:typing_start' : 'chat:typing_stop', payload: { groupId } })
  }

  /** Marks everything up to the message as read (over the socket when open, else REST). */
  async markRead (groupId: string, messageId: string): Promise<void> {
    if (this.connection.isOpen) {
      try {
        await this.connection.request({ type: 'chat:mark_read', payload: { groupId, messageId } })
        return
      } catch (err) {
        if (toParleyError(err).code !== 'CONNECTION_CLOSED') throw err
      }
    }
    await this.rest.chat.markRead(groupId, messageId)
  }

  /** Sets the user's presence status (seen in all their groups). */
  async setPresence (groupId: string, status: PresenceStatus, deviceType?: DeviceType): Promise<void> {
    const payload = deviceType === undefined ? { groupId, status } : { groupId, status, deviceType }
    if (this.connection.isOpen) await this.connection.request({ type: 'chat:presence_update', payload })
    else await this.rest.presence.updatePresence(groupId, deviceType === undefined ? { status } : { status, deviceType })
  }

  // ---- internals ----

  private createStream (groupId: string, position: GroupPosition | null): GroupStream {
    return new GroupStream(groupId, position, {
      listMessages: async (id, query) => await this.rest.chat.listMessages(id, query),
      deliver: (message) => { this.events.emit('message', message) },
      onFatal: (id, error) => { this.groupLost(id, error) },
      backoff: this.backoff
    })
  }

  private subscribe (stream: GroupStream): void {
    this.subscriptions.set(stream.groupId, 'pending')
    this.joinPacer.run(() => { this.sendJoin(stream) })
  }

  private sendJoin (stream: GroupStream): void {
    if (this.streams.get(stream.groupId) !== stream) return
    const sinceSeq = stream.sinceSeq
    const payload = sinceSeq === undefined ? { groupId: stream.groupId } : { groupId: stream.groupId, sinceSeq }
    this.connection.request({ type: 'chat:join_group', payload }).then(() => {
      if (this.streams.get(stream.groupId) !== stream) return
      this.subscriptions.set(stream.groupId, 'joined')
      this.settleJoin(stream.groupId)
    }, (err: unknown) => {
      if (this.streams.get(stream.groupId) !== stream) return
      const error = toParleyError(err)
      // A dropped socket rejoins on the next connection.
      if (error.code === 'CONNECTION_CLOSED') return
      if (JOIN_REFUSALS.has(error.code)) {
        this.groupLost(stream.groupId, error)
        return
      }
      // Rate limited, timed out, a server failure: ask again a little later.
      setTimer(() => { if (this.connection.isOpen && this.subscriptions.get(stream.groupId) === 'pending') this.sendJoin(stream) }, error.retryAfterMs ?? this.backoff.initialMs)
    })
  }

  private groupLost (groupId: string, error: ParleyError): void {
    this.streams.get(groupId)?.close()
    this.streams.delete(groupId)
    this.subscriptions.delete(groupId)
    this.settleJoin(groupId, error)
    this.events.emit('groupUnavailable', { groupId, error })
  }

  private settleJoin (groupId: string, error?: ParleyError): void {
    const waiting = this.joins.get(groupId)
    if (waiting === undefined) return
    this.joins.delete(groupId)
    for (const waiter of waiting) {
      if (error === undefined) waiter.resolve()
      else waiter.reject(error)
    }
  }

  private rejectJoins (error: ParleyError): void {
    for (const groupId of [...this.joins.keys()]) this.settleJoin(groupId, error)
  }

  private async transmit (entry: OutboxEntry): Promise<SendMessageAck> {
    const ack = await this.connection.request({ type: 'chat:send_message', payload: { groupId: entry.groupId, ...entry.message } })
    return ack as unknown as SendMessageAck
  }

  private opened (): void {
    this.subscriptions.clear()
    this.joinPacer.clear()
    for (const stream of this.streams.values()) {
      this.subscribe(stream)
      stream.resume()
    }
    this.outbox.kick()
    this.events.emit('connected', { reconnect: this.connectedBefore })
    this.connectedBefore = true
  }

  private received (frame: ServerFrame): void {
    switch (frame.type) {
      case 'chat:message':
        this.streams.get(frame.payload.groupId)?.advance(frame.payload.seq)
        break
      case 'chat:group_joined':
        this.streams.get(frame.payload.groupId)?.joined(frame.payload.latestSeq)
        break
      case 'chat:resync_required':
        this.streams.get(frame.payload.groupId)?.advance(frame.payload.latestSeq)
        break
      case 'chat:sync':
        for (const group of frame.payload.groups) this.streams.get(group.groupId)?.advance(group.latestSeq)
        break
      case 'chat:group_left':
        // leaveGroup() forgets the stream first: a group still followed was left elsewhere, or taken away.
        if (this.streams.has(frame.payload.groupId)) {
          this.groupLost(frame.payload.groupId, new ParleyError({ code: 'FORBIDDEN', message: `No longer in the group (${frame.payload.reason})` }))
        }
        break
      case 'chat:message_edited':
        void this.refetchEdited(frame.payload.groupId, frame.payload.messageId)
        break
      default:
        break
    }
    this.emitFrame(frame)
  }

  private emitFrame (frame: ServerFrame): void {
    // Each frame type is its own event; the map of frame types to payloads keeps them typed.
    (this.events as unknown as Emitter<Record<string, unknown>>).emit(frame.type, frame.payload)
  }

  /** Edits carry no content by default: read the message as it now reads, if it was delivered. */
  private async refetchEdited (groupId: string, messageId: string): Promise<void> {
    const stream = this.streams.get(groupId)
    if (stream === undefined) return
    try {
      const { message } = await this.rest.chat.getMessage(groupId, messageId)
      const delivered = stream.delivered
      if (delivered !== null && (message.seq ?? 0) <= delivered.seq) this.events.emit('messageEdited', message)
    } catch {
      // Deleted or gone meanwhile: its chat:message_deleted tells the rest.
    }
  }

  private tokensChanged (tokens: SessionTokens): void {
    this.sessionOver = false
    // Re-authenticate the open socket in place, so it outlives the old token.
    if (this.connection.isOpen) this.connection.request({ type: 'auth', token: tokens.token }).catch(() => {})
    this.events.emit('tokens', tokens)
  }

  private sessionEnded (error: ParleyError): void {
    this.connection.stop()
    this.session.clear()
    if (this.sessionOver) return
    this.sessionOver = true
    this.events.emit('authFailed', error)
  }
}
