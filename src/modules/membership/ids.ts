import { toBin } from '../../lib/ids.ts'

/**
 * A group id from another area in the one form events, subscriptions and caches use. The
 * edges lower-case UUIDs already (DESIGN §6); callers inside the process may not have.
 */
export const canonicalGroupId = (groupId: string): string => groupId.toLowerCase()

/** A UUID from outside (WS frames, other areas) as BINARY(16); a malformed id is no group. */
export function groupBinOf (groupId: string): Buffer | null {
  try { return toBin(groupId) } catch { return null }
}
