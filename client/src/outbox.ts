import type { SendMessageAck, SendMessageRequest } from '@parley/types'
import { backoffDelay, type BackoffOptions } from './backoff.ts'
import { ParleyError, toParleyError } from './errors.ts'
import { randomId, sleep } from './platform.ts'

/** A message waiting to be acknowledged by the server. */
export interface OutboxEntry {
  /** The deduplication key: every retry carries it, so the server stores the message once. */
  clientMessageId: string
  groupId: string
  message: SendMessageRequest & { clientMessageId: string }
  /** ISO time it was queued. */
  queuedAt: string
  /** Failed transmissions so far (a dropped connection is not a failure). */
  attempts: number
}

/**
 * Where the outbox keeps its entries between runs (a page reload, an app restart). One storage
 * per signed-in user. `webStorageOutbox(localStorage, key)` is one for browsers.
 */
export interface OutboxStorage {
  load: () => OutboxEntry[] | Promise<OutboxEntry[]>
  save: (entries: OutboxEntry[]) => void | Promise<void>
}

/** A Web Storage (localStorage, sessionStorage) as outbox storage under one key. */
export function webStorageOutbox (storage: { getItem: (key: string) => string | null, setItem: (key: string, value: string) => void, removeItem: (key: string) => void }, key: string): OutboxStorage {
  return {
    load () {
      const text = storage.getItem(key)
      if (text === null) return []
      try {
        const entries = JSON.parse(text) as unknown
        return Array.isArray(entries) ? entries.filter(isOutboxEntry) : []
      } catch {
        return []
      }
    },
    save (entries) {
      if (entries.length === 0) storage.removeItem(key)
      else storage.setItem(key, JSON.stringify(entries))
    }
  }
}

function isOutboxEntry (value: unknown): value is OutboxEntry {
  const entry = value as Partial<OutboxEntry> | null
  return typeof entry?.clientMessageId === 'string' && typeof entry.groupId === 'string' &&
    typeof entry.message?.content === 'string' && entry.message.clientMessageId === entry.clientMessageId
}

/** Codes that a resend of the same message cannot change: the message is dropped and reported. */
const REFUSED = new Set(['VALIDATION_ERROR', 'FORBIDDEN', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'CONFLICT', 'UNSUPPORTED_MEDIA_TYPE'])

export interface OutboxOptions {
  maxEntries: number
  storage: OutboxStorage | null
  backoff: BackoffOptions
  /** Sends one entry and resolves with its ack; rejects with CONNECTION_CLOSED when the socket drops. */
  transmit: (entry: OutboxEntry) => Promise<SendMessageAck>
  /** Whether a transmission can be attempted now (the socket is open). */
  canTransmit: () => boolean
  onSent: (entry: OutboxEntry, ack: SendMessageAck) => void
  onRefused: (entry: OutboxEntry, error: ParleyError) => void
  onChange: (entries: readonly OutboxEntry[]) => void
  onStorageError: (error: ParleyError) => void
}

interface Waiter {
  resolve: (ack: SendMessageAck) => void
  reject: (error: ParleyError) => void
}

/**
 * The offline outbox (seed 01 §11.4, done safely): every send is queued with its
 * clientMessageId before anything goes on the wire, sent in order one at a time, and removed
 * only when the server acknowledged it. A send cut off by a dropped connection is sent again
 * after the reconnect with the same clientMessageId, which the server answers with the
 * original message: however often the network drops, the message is stored once.
 */
export class Outbox {
  private queue: OutboxEntry[] = []
  private readonly waiters = new Map<string, Waiter>()
  private readonly options: OutboxOptions
  private flushing = false
  private closed = false
  private saving: Promise<void> = Promise.resolve()

  constructor (options: OutboxOptions) {
    this.options = options
  }

  get entries (): readonly OutboxEntry[] {
    return this.queue
  }

  /** Adds the entries the storage kept from an earlier run (once each). */
  async restore (): Promise<void> {
    if (this.options.storage === null) return
    try {
      const stored = await this.options.storage.load()
      const known = new Set(this.queue.map((entry) => entry.clientMessageId))
      const restored = stored.filter((entry) => !known.has(entry.clientMessageId))
      if (restored.length === 0) return
      this.queue = [...restored, ...this.queue].slice(0, Math.max(this.options.maxEntries, restored.length))
      this.changed()
    } catch (err) {
      this.options.onStorageError(toParleyError(err, 'INTERNAL_ERROR'))
    }
  }

  /** Queues a message; resolves with the server's ack once it is stored. */
  async enqueue (groupId: string, input: SendMessageRequest): Promise<SendMessageAck> {
    if (this.closed) throw new ParleyError({ code: 'CLIENT_CLOSED', message: 'The client is closed' })
    if (this.queue.length >= this.options.maxEntries) {
      throw new ParleyError({ code: 'OUTBOX_FULL', message: `The outbox holds ${this.options.maxEntries} unsent messages already` })
    }
    const clientMessageId = input.clientMessageId ?? randomId()
    const existing = this.waiters.get(clientMessageId)
    if (existing !== undefined || this.queue.some((entry) => entry.clientMessageId === clientMessageId)) {
      throw new ParleyError({ code: 'CONFLICT', message: `clientMessageId ${clientMessageId} is already queued` })
    }
    const entry: OutboxEntry = {
      clientMessageId,
      groupId,
      message: { ...input, clientMessageId },
      queuedAt: new Date().toISOString(),
      attempts: 0
    }
    const acked = new Promise<SendMessageAck>((resolve, reject) => { this.waiters.set(clientMessageId, { resolve, reject }) })
    this.queue.push(entry)
    this.changed()
    this.kick()
    return await acked
  }

  /** Starts sending if there is something to send and the socket is open. */
  kick (): void {
    if (this.flushing || this.closed || this.queue.length === 0 || !this.options.canTransmit()) return
    this.flushing = true
    void this.flush().finally(() => { this.flushing = false })
  }

  /** Drops every entry (sign-out); their promises reject with CLIENT_CLOSED. */
  clear (): void {
    const dropped = this.queue
    this.queue = []
    for (const entry of dropped) this.settle(entry, new ParleyError({ code: 'CLIENT_CLOSED', message: 'The outbox was cleared' }))
    this.changed()
  }

  /** Stops sending; queued entries stay in the storage for the next run. */
  close (): void {
    this.closed = true
    for (const waiter of this.waiters.values()) waiter.reject(new ParleyError({ code: 'CLIENT_CLOSED', message: 'The client is closed' }))
    this.waiters.clear()
  }

  /** Resolves once everything queued so far is written to the storage. */
  async persisted (): Promise<void> {
    await this.saving
  }

  private async flush (): Promise<void> {
    while (!this.closed && this.options.canTransmit()) {
      const entry = this.queue[0]
      if (entry === undefined) return
      let ack: SendMessageAck
      try {
        ack = await this.options.transmit(entry)
      } catch (err) {
        const error = toParleyError(err)
        if (error.code === 'CONNECTION_CLOSED' || !this.options.canTransmit()) return
        if (REFUSED.has(error.code)) {
          this.remove(entry)
          this.settle(entry, error)
          this.options.onRefused(entry, error)
          continue
        }
        // Rate limited, timed out, or a server failure: the same clientMessageId again later.
        entry.attempts += 1
        this.changed()
        await sleep(error.retryAfterMs ?? backoffDelay(entry.attempts - 1, this.options.backoff))
        continue
      }
      this.remove(entry)
      this.settle(entry, ack)
      this.options.onSent(entry, ack)
    }
  }

  private remove (entry: OutboxEntry): void {
    const index = this.queue.indexOf(entry)
    if (index < 0) return
    this.queue.splice(index, 1)
    this.changed()
  }

  private settle (entry: OutboxEntry, outcome: SendMessageAck | ParleyError): void {
    const waiter = this.waiters.get(entry.clientMessageId)
    if (waiter === undefined) return
    this.waiters.delete(entry.clientMessageId)
    if (outcome instanceof ParleyError) waiter.reject(outcome)
    else waiter.resolve(outcome)
  }

  private changed (): void {
    const snapshot = this.queue.map((entry) => ({ ...entry }))
    const storage = this.options.storage
    if (storage !== null) {
      // Writes run one after another, so the last one written is the last state.
      this.saving = this.saving.then(async () => { await storage.save(snapshot) }).catch((err: unknown) => {
        this.options.onStorageError(toParleyError(err, 'INTERNAL_ERROR'))
      })
    }
    this.options.onChange(this.queue)
  }
}
