import type { GroupType, MemberRole } from '../../../db/database.ts'

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
  const groups = new Map<string, Map<number, { access: MemberAccess, seenAt: number }>>()
  let size = 0
  const memberLists = new Map<string, { userIds: readonly number[], seenAt: number }>()
  let listedIds = 0
  const memberCounts = new Map<string, { count: number, seenAt: number }>()

  return {
    get (groupKey, userId) {
      const entry = groups.get(groupKey)?.get(userId)
      if (entry === undefined) return null
      if (now() - entry.seenAt >= ttlMs) return null
      return entry.access
    },
    remember (groupKey, userId, access) {
      if (size >= MAX_CACHED_MEMBERSHIPS) {
        groups.clear()
        size = 0
      }
      let members = groups.get(groupKey)
      if (members === undefined) {
        members = new Map()
        groups.set(groupKey, members)
      }
      if (!members.has(userId)) size++
      members.set(userId, { access, seenAt: now() })
    },
    memberIds (groupKey) {
      const list = memberLists.get(groupKey)
      if (list === undefined || now() - list.seenAt >= ttlMs) return null
      return list.userIds
    },
    rememberMemberIds (groupKey, userIds) {
      if (listedIds + userIds.length > MAX_CACHED_MEMBER_IDS) {
        memberLists.clear()
        listedIds = 0
      }
      listedIds += userIds.length - (memberLists.get(groupKey)?.userIds.length ?? 0)
      memberLists.set(groupKey, { userIds, seenAt: now() })
    },
    memberCount (groupKey) {
      const entry = memberCounts.get(groupKey)
      if (entry === undefined || now() - entry.seenAt >= ttlMs) return null
      return entry.count
    },
    rememberMemberCount (groupKey, count) {
      if (memberCounts.size >= MAX_CACHED_MEMBERSHIPS) memberCounts.clear()
      memberCounts.set(groupKey, { count, seenAt: now() })
    },
    forgetGroup (groupKey) {
      memberCounts.delete(groupKey)
      const list = memberLists.get(groupKey)
      if (list !== undefined) {
        listedIds -= list.userIds.length
        memberLists.delete(groupKey)
      }
      const members = groups.get(groupKey)
      if (members === undefined) return
      size -= members.size
      groups.delete(groupKey)
    }
  }
}
