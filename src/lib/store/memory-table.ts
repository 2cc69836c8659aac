import type { Clock, Timer } from '../clock.ts'

/**
 * Entries the in-process store holds at most (REDIS_URL=memory). An entry is one key: a
 * counter, a ticket, a user's connections or shown status, a group's typers or subscribers.
 * Measured on Node 24: about 300 bytes for a counter, under 1 KB for a user's connections, so
 * a full store of rate-limit windows takes about 150 MB.
 */
export const MEMORY_STORE_MAX_ENTRIES = 500_000
/** How often expired entries are dropped; an entry outlives its expiry by at most this long. */
export const MEMORY_STORE_SWEEP_MS = 1000
/** A full store says so in the log at most this often. */
const FULL_WARNING_INTERVAL_MS = 60_000

interface Entry {
  value: unknown
  expiresAt: number
  /** The sweep slot the key is listed in. */
  slot: number
}

export interface MemoryTableOptions {
  clock: Clock
  maxEntries?: number
  sweepIntervalMs?: number
  /** Told (at most once a minute) that writes are evicting entries because the table is full. */
  onFull?: (details: { maxEntries: number, evicted: number }) => void
}

/**
 * The in-process store's memory: keys with values and an expiry, as Redis keeps them, with
 * the two guarantees an in-process store needs and Redis gives by itself.
 *
 * - Expired entries are dropped by a sweep every MEMORY_STORE_SWEEP_MS, read or not: each
 *   entry sits in the slot of its expiry second, and a sweep visits only the slots that have
 *   come due, so its cost follows what expires, not what is stored.
 * - The table never holds more than `maxEntries`. A write of a new key into a full table first
 *   drops what has expired, then evicts the entry written longest ago (writes, not reads, keep
 *   an entry fresh: a live counter, connection or ticket is written as it is used). Eviction
 *   forgets state early — a rate-limit window starts over, a ticket must be asked for again —
 *   and is counted and logged, never an error.
 *
 * Values are kept by reference: a caller that changes one in place writes it back with `set`
 * so its expiry and freshness follow.
 */
export class MemoryTable {
  readonly maxEntries: number
  /** Entries dropped for having expired, and evicted because the table was full. */
  readonly stats = { expired: 0, evicted: 0 }
  private readonly entries = new Map<string, Entry>()
  private readonly slots = new Map<number, Set<string>>()
  private readonly clock: Clock
  private readonly slotMs: number
  private readonly onFull: MemoryTableOptions['onFull']
  private sweptBefore: number
  private lastFullWarning = Number.NEGATIVE_INFINITY
  private readonly sweeper: Timer

  constructor (options: MemoryTableOptions) {
    this.clock = options.clock
    this.maxEntries = options.maxEntries ?? MEMORY_STORE_MAX_ENTRIES
    this.slotMs = options.sweepIntervalMs ?? MEMORY_STORE_SWEEP_MS
    this.onFull = options.onFull
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer')
    this.sweptBefore = this.slotOf(this.clock.now())
    this.sweeper = this.clock.setInterval(() => { this.sweep() }, this.slotMs)
  }

  get size (): number {
    return this.entries.size
  }

  /** The live value of a key; an expired one reads as absent (and is dropped). */
  get<T> (key: string): T | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.clock.now()) {
      this.remove(key, entry)
      this.stats.expired += 1
      return undefined
    }
    return entry.value as T
  }

  /** The table's time: what expiries are compared with. */
  now (): number {
    return this.clock.now()
  }

  /** When the key expires (ms since the epoch), or null when it is absent or expired. */
  expiryOf (key: string): number | null {
    const entry = this.entries.get(key)
    return entry === undefined || entry.expiresAt <= this.clock.now() ? null : entry.expiresAt
  }

  /** Writes a key that expires at `expiresAt` (ms since the epoch). */
  set (key: string, value: unknown, expiresAt: number): void {
    // An expiry already past is swept at the next sweep, like one due now.
    const slot = Math.max(this.slotOf(expiresAt), this.sweptBefore)
    const existing = this.entries.get(key)
    if (existing !== undefined) {
      // Re-inserted so the Map's order stays the order of last writes.
      this.entries.delete(key)
      if (existing.slot !== slot) this.unslot(key, existing.slot)
    } else if (this.entries.size >= this.maxEntries) {
      this.makeRoom()
    }
    this.entries.set(key, { value, expiresAt, slot })
    if (existing === undefined || existing.slot !== slot) this.slot(key, slot)
  }

  delete (key: string): boolean {
    const entry = this.entries.get(key)
    if (entry === undefined) return false
    this.remove(key, entry)
    return true
  }

  /** Drops every entry whose expiry has passed; returns how many. Runs on its own every sweep interval. */
  sweep (): number {
    const now = this.clock.now()
    const current = this.slotOf(now)
    let dropped = 0
    // A clock that jumped far ahead visits the slots that exist rather than every slot between.
    const due = current - this.sweptBefore > this.slots.size
      ? [...this.slots.keys()].filter((slot) => slot <= current)
      : Array.from({ length: current - this.sweptBefore + 1 }, (_, i) => this.sweptBefore + i)
    for (const slot of due) dropped += this.sweepSlot(slot, now)
    // The current slot may still hold entries that expire later this second: visited again next time.
    this.sweptBefore = current
    this.stats.expired += dropped
    return dropped
  }

  /** Stops the sweep and forgets everything. */
  close (): void {
    this.sweeper.cancel()
    this.entries.clear()
    this.slots.clear()
  }

  private sweepSlot (slot: number, now: number): number {
    const keys = this.slots.get(slot)
    if (keys === undefined) return 0
    let dropped = 0
    for (const key of keys) {
      const entry = this.entries.get(key)
      if (entry !== undefined && entry.expiresAt > now) continue
      keys.delete(key)
      if (entry !== undefined) {
        this.entries.delete(key)
        dropped += 1
      }
    }
    if (keys.size === 0) this.slots.delete(slot)
    return dropped
  }

  private makeRoom (): void {
    this.sweep()
    if (this.entries.size < this.maxEntries) return
    const oldest = this.entries.keys().next()
    if (oldest.done === true) return
    const entry = this.entries.get(oldest.value)
    if (entry !== undefined) this.remove(oldest.value, entry)
    this.stats.evicted += 1
    const now = this.clock.now()
    if (now - this.lastFullWarning >= FULL_WARNING_INTERVAL_MS) {
      this.lastFullWarning = now
      this.onFull?.({ maxEntries: this.maxEntries, evicted: this.stats.evicted })
    }
  }

  private remove (key: string, entry: Entry): void {
    this.entries.delete(key)
    this.unslot(key, entry.slot)
  }

  private slotOf (at: number): number {
    return Math.floor(at / this.slotMs)
  }

  private slot (key: string, slot: number): void {
    let keys = this.slots.get(slot)
    if (keys === undefined) {
      keys = new Set()
      this.slots.set(slot, keys)
    }
    keys.add(key)
  }

  private unslot (key: string, slot: number): void {
    const keys = this.slots.get(slot)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) this.slots.delete(slot)
  }
}
