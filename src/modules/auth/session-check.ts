import type { LRUCache } from 'lru-cache'
import { toBin } from '../../lib/ids.ts'
import { tickBatch } from '../../lib/tick-batch.ts'
import { ttlCache } from '../../lib/ttl-cache.ts'
import type { AuthRepository } from './repository.ts'

/**
 * A session seen active is trusted this long without asking the database again. An ended
 * session (logout, refresh reuse, password change) is dropped from every instance's cache at
 * once by a bus notice; this window bounds staleness only while Redis is unreachable.
 */
export const SESSION_CACHE_MS = 1000
/** How long an instance remembers a session it was told ended: longer than any check in flight. */
export const ENDED_SESSION_MEMORY_MS = 30_000
const SESSION_CACHE_MAX = 10_000

/** Whether a session behind a token is still live, as this instance knows it. */
export interface SessionCheck {
  /** The user of an active session (by hex id), or null; lookups of one turn share one query (connects arriving together). */
  activeUserOf: (hexId: string) => Promise<number | null>
  /** Sessions seen active in the last SESSION_CACHE_MS. */
  active: LRUCache<string, true>
  /** Sessions this instance was told ended; the least recently ended goes first when full. */
  ended: LRUCache<string, true>
}

export function createSessionCheck (repo: AuthRepository): SessionCheck {
  return {
    activeUserOf: tickBatch(async (hexIds: string[]) => await repo.activeSessionUserIds(hexIds.map((hex) => Buffer.from(hex, 'hex')), new Date()), null),
    active: ttlCache<string, true>({ max: SESSION_CACHE_MAX, ttlMs: SESSION_CACHE_MS }),
    ended: ttlCache<string, true>({ max: SESSION_CACHE_MAX, ttlMs: ENDED_SESSION_MEMORY_MS })
  }
}

/** True when this instance learned in the last ENDED_SESSION_MEMORY_MS that the session ended. */
export function sessionEndedRecently (check: SessionCheck, sessionId: string): boolean {
  return check.ended.has(sessionId)
}

/** True when the session is live and the user's: from the cache, else from its row. */
export async function sessionIsActive (check: SessionCheck, sessionId: string, userId: number): Promise<boolean> {
  if (sessionEndedRecently(check, sessionId)) return false
  if (check.active.has(sessionId)) return true
  let id: Buffer
  try { id = toBin(sessionId) } catch { return false }
  const sessionUserId = await check.activeUserOf(id.toString('hex'))
  // The session may have ended while the row was read: then it is not cached again.
  if (sessionUserId !== userId || sessionEndedRecently(check, sessionId)) return false
  check.active.set(sessionId, true)
  return true
}

/**
 * Drops an ended session from the cache at once and remembers for a while that it ended, so a
 * check that read the database just before the revocation cannot cache it again.
 */
export function forgetSession (check: SessionCheck, sessionId: string): void {
  check.active.delete(sessionId)
  check.ended.set(sessionId, true)
}
