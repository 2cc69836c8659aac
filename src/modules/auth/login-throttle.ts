import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../../lib/app-error.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { loginKeys } from '../../lib/store/keys.ts'
import type { WindowCounters } from '../../lib/store/counters.ts'

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

function refusal (message: string, ttlMs: number, limit: number, now: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000))
  return new AppError('RATE_LIMIT_EXCEEDED', message, {
    retryAfter,
    limit,
    remaining: 0,
    resetAt: new Date(now + ttlMs).toISOString()
  })
}

/**
 * The throttle over the store's window counters (in Redis, shared by every instance). A wait is a
 * window of its own whose remaining time is the wait. The store is best effort: when it is
 * unreachable, sign-ins go through unthrottled and a warning is logged.
 */
export function createLoginThrottle (counters: WindowCounters, scale: number, log: FastifyBaseLogger, clock: Clock = systemClock): LoginThrottle {
  const limits = {
    pair: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.pair * scale)),
    address: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.address * scale)),
    accountFree: Math.max(1, Math.floor(LOGIN_FAILURE_LIMITS.accountFree * scale))
  }
  const unavailable = (err: unknown): void => {
    log.warn({ err: { message: (err as Error).message } }, 'login throttle unavailable')
  }

  /** Failures and remaining ms of each counter, and the remaining wait (read together: auto-pipelined). */
  async function read (account: string, address: string): Promise<{ pair: [number, number], address: [number, number], waitMs: number } | null> {
    try {
      const [pair, byAddress, wait] = await Promise.all([
        counters.peek(loginKeys.pair(account, address)),
        counters.peek(loginKeys.address(address)),
        counters.peek(loginKeys.wait(account, address))
      ])
      return {
        pair: [pair?.count ?? 0, pair?.ttlMs ?? 0],
        address: [byAddress?.count ?? 0, byAddress?.ttlMs ?? 0],
        waitMs: wait?.ttlMs ?? 0
      }
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
        throw refusal('Too many failed sign-ins from this address. Please try again later.', remaining(state.address[1]), limits.address, clock.now())
      }
      if (state.pair[0] >= limits.pair) {
        throw refusal('Too many failed sign-ins for this account from this address. Please try again later.', remaining(state.pair[1]), limits.pair, clock.now())
      }
      if (state.waitMs > 0) {
        throw refusal('This account has many failed sign-ins: wait before trying again from this address.', state.waitMs, 1, clock.now())
      }
    },

    async recordFailure (account, address) {
      try {
        const [, , accountWindow] = await Promise.all([
          counters.hit(loginKeys.pair(account, address), LOGIN_FAILURE_WINDOW_MS),
          counters.hit(loginKeys.address(address), LOGIN_FAILURE_WINDOW_MS),
          counters.hit(loginKeys.account(account), LOGIN_FAILURE_WINDOW_MS)
        ])
        const waitMs = loginWaitMs(accountWindow.count, limits.accountFree)
        if (waitMs > 0) {
          // A new wait replaces the one running: reset, then open a window as long as the wait.
          await counters.reset(loginKeys.wait(account, address))
          await counters.hit(loginKeys.wait(account, address), waitMs)
        }
      } catch (err) {
        unavailable(err)
      }
    },

    async recordSuccess (account, address) {
      try {
        await Promise.all([
          counters.reset(loginKeys.pair(account, address)),
          counters.reset(loginKeys.wait(account, address)),
          counters.reset(loginKeys.account(account))
        ])
      } catch (err) {
        unavailable(err)
      }
    }
  }
}
