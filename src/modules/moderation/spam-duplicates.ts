import type { FastifyBaseLogger } from 'fastify'
import { recentContentKey } from '../../lib/store/keys.ts'
import type { Claims } from '../../lib/store/tickets.ts'
import type { ClaimRecentContent } from './spam.ts'

/**
 * The duplicate rule's shared state: one claim per (group, sender, content hash) that lives for
 * the window, holding the clientMessageId of the send that set it ('' for none), one store call
 * per send. The store is best effort: when it does not answer, the rule lets the message through
 * rather than refusing sends.
 */
export function recentContentClaims (claims: Claims, log: FastifyBaseLogger): ClaimRecentContent {
  return async ({ groupId, senderId, contentHash, clientMessageId, windowMs }) => {
    let existing: string | null
    try {
      existing = await claims.claim(recentContentKey(groupId, senderId, contentHash), clientMessageId ?? '', windowMs)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'duplicate-content check unavailable; message let through')
      return { repeated: false }
    }
    if (existing === null) return { repeated: false }
    return { repeated: clientMessageId === null || existing !== clientMessageId }
  }
}
