import { systemClock, type Clock } from '../lib/clock.ts'

/*
 * WebSocket limits of seed 01 §9, as token buckets per connection (DESIGN §6). A bucket holds
 * one second's allowance, so a client may burst up to the limit and then sustain the rate.
 * They live with the connection, in this process: no shared store is involved.
 */

/** Seed 01 §9 WebSocket limits per second, before RATE_LIMIT_SCALE. */
export const WS_RATE_LIMITS = {
  /** chat:send_message, chat:edit_message, chat:delete_message */
  messages: 10,
  /** chat:typing_start, chat:typing_stop */
  typing: 5,
  /** chat:add_reaction, chat:remove_reaction */
  reactions: 20,
  /**
   * chat:join_group: not in the seed. A join reads the group's position and may replay up to
   * 1,000 messages, so it is the most expensive frame; 20 a second rejoins 100 groups in 5 s.
   */
  joins: 20,
  /**
   * Every frame, whatever its type (including malformed ones): not in the seed, it bounds the
   * work one connection can ask for (joins, pings, garbage).
   */
  frames: 50
} as const
export type WsRateCategory = keyof typeof WS_RATE_LIMITS

/**
 * WebSocket upgrades per client address (IPv6: per /64) and window, before RATE_LIMIT_SCALE,
 * counted across instances; past it the upgrade is answered 429 in the error envelope. Generous:
 * a carrier NAT puts many users behind one address.
 */
export const WS_UPGRADE_LIMIT = { perAddress: 120, windowMs: 60_000 } as const

/** Rejections within ABUSE_WINDOW_MS that count as sustained abuse: the connection closes with 4429. */
export const ABUSE_REJECTIONS = 50
export const ABUSE_WINDOW_MS = 10_000

export class TokenBucket {
  readonly capacity: number
  private tokens: number
  private updatedAt: number

  /** `perSecond` tokens refill every second, up to `perSecond` held. */
  constructor (perSecond: number, now = Date.now()) {
    this.capacity = perSecond
    this.tokens = perSecond
    this.updatedAt = now
  }

  /** Takes a token if one is left. */
  take (now = Date.now()): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Milliseconds until the next token. */
  retryAfterMs (now = Date.now()): number {
    this.refill(now)
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * 1000 / this.capacity)
  }

  private refill (now: number): void {
    const elapsed = now - this.updatedAt
    if (elapsed <= 0) return
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.capacity / 1000)
    this.updatedAt = now
  }
}

/** One connection's buckets plus its count of recent rejections. */
export class ConnectionLimits {
  private readonly buckets: Record<WsRateCategory, TokenBucket>
  private readonly clock: Clock
  private rejections: number[] = []

  constructor (scale: number, clock: Clock = systemClock) {
    this.clock = clock
    const now = clock.now()
    const bucket = (category: WsRateCategory): TokenBucket => new TokenBucket(Math.max(1, Math.floor(WS_RATE_LIMITS[category] * scale)), now)
    this.buckets = { messages: bucket('messages'), typing: bucket('typing'), reactions: bucket('reactions'), joins: bucket('joins'), frames: bucket('frames') }
  }

  /** Takes a token from the category's bucket; on refusal returns the details of the 429. */
  take (category: WsRateCategory): null | { retryAfter: number, limit: number, remaining: number, resetAt: string } {
    const bucket = this.buckets[category]
    const now = this.clock.now()
    if (bucket.take(now)) return null
    this.rejections.push(now)
    const retryAfterMs = bucket.retryAfterMs(now)
    return {
      retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      limit: bucket.capacity,
      remaining: 0,
      resetAt: new Date(now + retryAfterMs).toISOString()
    }
  }

  /** True once the client keeps sending after being told to stop. */
  abusive (): boolean {
    const since = this.clock.now() - ABUSE_WINDOW_MS
    while (this.rejections.length > 0 && (this.rejections[0] ?? 0) < since) this.rejections.shift()
    return this.rejections.length >= ABUSE_REJECTIONS
  }
}
