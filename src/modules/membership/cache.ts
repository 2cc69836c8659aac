import type { GroupType, MemberRole } from '../../../db/database.ts'
import { ttlCache } from '../../lib/ttl-cache.ts'

/** A member's standing in a group, as the guard needs it. */
export interface MemberAccess {
  type: GroupType
  role: MemberRole
}

/**
 * A membership seen this recently is trusted without asking the database again. Changes made on
 * this instance drop the group's entries at once; other instances see them within this window,
 * as with the session cache. Sends do not rely on it: the send transaction reads the sender's
 * membership again under the group row lock (see send-batcher.ts).
 */
export const MEMBERSHIP_CACHE_MS = 1000
const MAX_CACHED_MEMBERSHIPS = 50_000
/** Member ids held across every cached member list. */
const MAX_CACHED_MEMBER_IDS = 200_000

export interface MembershipCache {
  get: (groupKey: string, userId: number) => MemberAccess | null
  /** Remembers a member; non-members and missing groups are never remembered, so a join is seen at once everywhere. */
  remember: (groupKey: string, userId: number, access: MemberAccess) => void
  /** The group's member ids, as last read; only counts are built on it (a send's ack), never access. */
  memberIds: (groupKey: string) => readonly number[] | null
  rememberMemberIds: (groupKey: string, userIds: readonly number[]) => void
  /** The group's member count, as last read (for a send's ack); null when not known recently. */
  memberCount: (groupKey: string) => number | null
  rememberMemberCount: (groupKey: string, count: number) => void
  /** Drops every entry of the group: after any change to its members, roles or existence. */
  forgetGroup: (groupKey: string) => void
}

export function createMembershipCache (ttlMs = MEMBERSHIP_CACHE_MS, now: () => number = Date.now): MembershipCache {
  // Per group, so a change drops the whole group at once; each member keeps the time it was
  // read, as remembering one member must not extend another's window.
  const groups = ttlCache<string, Map<number, { access: MemberAccess, seenAt: number }>>({
    max: MAX_CACHED_MEMBERSHIPS, maxSize: MAX_CACHED_MEMBERSHIPS, sizeOf: (members) => members.size, ttlMs, now
  })
  const memberLists = ttlCache<string, readonly number[]>({
    max: MAX_CACHED_MEMBERSHIPS, maxSize: MAX_CACHED_MEMBER_IDS, sizeOf: (userIds) => userIds.length, ttlMs, now
  })
  const memberCounts = ttlCache<string, number>({ max: MAX_CACHED_MEMBERSHIPS, ttlMs, now })

  return {
    get (groupKey, userId) {
      const entry = groups.get(groupKey)?.get(userId)
      if (entry === undefined || now() - entry.seenAt >= ttlMs) return null
      return entry.access
    },
    remember (groupKey, userId, access) {
      const members = groups.get(groupKey) ?? new Map<number, { access: MemberAccess, seenAt: number }>()
      members.set(userId, { access, seenAt: now() })
      // Set again even when it was there: the group's size (its member count) is counted anew.
      groups.set(groupKey, members)
    },
    memberIds (groupKey) {
      return memberLists.get(groupKey) ?? null
    },
    rememberMemberIds (groupKey, userIds) {
      memberLists.set(groupKey, userIds)
    },
    memberCount (groupKey) {
      return memberCounts.get(groupKey) ?? null
    },
    rememberMemberCount (groupKey, count) {
      memberCounts.set(groupKey, count)
    },
    forgetGroup (groupKey) {
      memberCounts.delete(groupKey)
      memberLists.delete(groupKey)
      groups.delete(groupKey)
    }
  }
}
