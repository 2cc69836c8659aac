import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { AppError } from '../../lib/app-error.ts'
import { fixedWindowCounter } from '../../lib/fixed-window.ts'

/*
 * Failed sign-ins slow attackers down without letting them lock the owner out (README
 * "Sign-in throttling"):
 * - an (account, address) pair that failed PAIR times in the window is refused until it ends;
 * - an address that failed ADDRESS times in the window, on any accounts, is refused likewise;
 * - past ACCOUNT_FREE failures of the account from anywhere, an address that fails on it must
 *   wait before its next try on it, twice as long for every further failure of the account
 *   (1 s, 2 s, 4 s … up to the window). An address that has not failed on the account (the
 *   owner's phone, another office) is never slowed by the others' failures;
 * - a success forgets the address's failures and wait on the account, and the account's count.
 * Counts are multiplied by RATE_LIMIT_SCALE; waits are not.
 */

/** Failed sign-ins per window, before RATE_LIMIT_SCALE. */
export const LOGIN_FAILURE_LIMITS = { pair: 5, address: 50, accountFree: 5 } as const
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000
/** The first wait past the account's free failures; each further failure doubles it. */
export const LOGIN_FIRST_WAIT_MS = 1000

/**
 * What an address waits after failing on an account that has `failures` failures in the
 * window: 0 up to the free ones, then 1 s doubling, at most the window.
 */
export function loginWaitMs (failures: number, accountFree: number): number {
  if (failures <= accountFree) return 0
  return Math.min(LOGIN_FAILURE_WINDOW_MS, LOGIN_FIRST_WAIT_MS * 2 ** Math.min(30, failures - accountFree - 1))
}

export interface LoginThrottle {
  /** Throws 429 (with retryAfter) when this address may not try this account now. */
  check: (account: string, address: string) => Promise<void>
  /** Counts a failed sign-in of the account from the address. */
  recordFailure: (account: string, address: string) => Promise<void>
  /**
   * The address proved it knows the password: its failures on the account and the account's
   * count are forgotten (other addresses' waits run out on their own).
   */
  recordSuccess: (account: string, address: string) => Promise<void>
}

/** Every key the throttle keeps: counters in fixed windows, and per-address waits. */
export const loginKeys = {
  pair: (account: string, address: string): string => `loginfail:pair:${account}:${address}`,
  address: (address: string): string => `loginfail:ip:${address}`,
  account: (account: string): string => `loginfail:acct:${account}`,
  wait: (account: string, address: string): string => `loginwait:${account}:${address}`
}

function refusal (message: string, ttlMs: number, limit: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000))
  return new AppError('RATE_LIMIT_EXCEEDED', message, {
    retryAfter,
    limit,
    remaining: 0,
    resetAt: new Date(Date.now() + ttlMs).toISOString()
  })
}

/**
 * The throttle over Redis (shared by every instance). Redis is best effort: when it is
 * unreachable, sign-ins go through unthrottled and a warning is logged.
 */
export function createLoginThrottle (redis: Redis, scale: number, log: FastifyBaseLogger): LoginThrottle {
  const limits = {
    pair: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.pair * scale)),
    address: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.address * scale)),
    accountFree: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.accountFree * scale))
  }
  const countHit = fixedWindowCounter(redis)
  const unavailable = (err: unknown): void => {
    log.warn({ err: { message: (err as Error).message } }, 'login throttle unavailable')
  }

  /** Failures and remaining ms of each counter, and the remaining wait, in one round trip. */
  async function read (account: string, address: string): Promise<{ pair: [number, number], address: [number, number], waitMs: number } | null> {
    try {
      const replies = await redis.multi()
        .get(loginKeys.pair(account, address)).pttl(loginKeys.pair(account, address))
        .get(loginKeys.address(address)).pttl(loginKeys.address(address))
        .pttl(loginKeys.wait(account, address))
        .exec()
      const value = (i: number): number => Number(replies?.[i]?.[1] ?? 0)
      return { pair: [value(0), value(1)], address: [value(2), value(3)], waitMs: value(4) }
    } catch (err) {
      unavailable(err)
      return null
    }
  }

  const remaining = (ttl: number): number => ttl > 0 ? ttl : LOGIN_FAILURE_WINDOW_MS

  return {
    async check (account, address) {
      const state = await read(account, address)
      if (state === null) return
      if (state.address[0] >= limits.address) {
        throw refusal('Too many failed sign-ins from this address. Please try again later.', remaining(state.address[1]), limits.address)
      }
      if (state.pair[0] >= limits.pair) {
        throw refusal('Too many failed sign-ins for this account from this address. Please try again later.', remaining(state.pair[1]), limits.pair)
      }
      if (state.waitMs > 0) {
        throw refusal('This account has many failed sign-ins: wait before trying again from this address.', state.waitMs, 1)
      }
    },

    async recordFailure (account, address) {
      try {
        const [, , [accountFailures]] = await Promise.all([
          countHit(loginKeys.pair(account, address), LOGIN_FAILURE_WINDOW_MS),
          countHit(loginKeys.address(address), LOGIN_FAILURE_WINDOW_MS),
          countHit(loginKeys.account(account), LOGIN_FAILURE_WINDOW_MS)
        ])
        const waitMs = loginWaitMs(accountFailures, limits.accountFree)
        if (waitMs > 0) await redis.set(loginKeys.wait(account, address), '1', 'PX', waitMs)
      } catch (err) {
        unavailable(err)
      }
    },

    async recordSuccess (account, address) {
      try {
        await redis.del(loginKeys.pair(account, address), loginKeys.wait(account, address), loginKeys.account(account))
      } catch (err) {
        unavailable(err)
      }
    }
  }
}
