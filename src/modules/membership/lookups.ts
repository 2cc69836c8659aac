import type { GroupType, MemberRole } from '../../../db/database.ts'
import { fromBin } from '../../lib/ids.ts'
import type { MembershipCache } from './cache.ts'
import type { Membership } from './guard.ts'
import { canonicalGroupId, groupBinOf } from './ids.ts'
import type { MembershipQueries } from './repository.ts'

/*
 * Who is in which group, as every area asks it (the guard, chat, the gateway): through the
 * membership cache where a moment-old answer is safe (README "Consistency windows").
 */

/** What the lookups read: the membership queries and the one cache every area shares. */
export interface MembershipDeps {
  repo: MembershipQueries
  memberships: MembershipCache
}

type Access = { type: GroupType, role: MemberRole | null } | null

/** The group's type and the user's role, from the membership cache when they were seen a moment ago. */
async function accessByBin (deps: MembershipDeps, groupBin: Buffer, userId: number): Promise<Access> {
  const key = groupBin.toString('hex')
  const cached = deps.memberships.get(key, userId)
  if (cached !== null) return cached
  const access = await deps.repo.findAccess(groupBin, userId)
  if (access?.role != null) deps.memberships.remember(key, userId, { type: access.type, role: access.role })
  return access
}

export async function getMembership (deps: MembershipDeps, groupId: string, userId: number): Promise<Membership | null> {
  groupId = canonicalGroupId(groupId)
  const groupBin = groupBinOf(groupId)
  if (groupBin === null) return null
  const access = await accessByBin(deps, groupBin, userId)
  if (access?.role == null) return null
  return { groupId, groupIdBin: groupBin, role: access.role, groupType: access.type }
}

export async function accessOf (deps: MembershipDeps, groupId: string, userId: number): Promise<Access> {
  const groupBin = groupBinOf(groupId)
  return groupBin === null ? null : await accessByBin(deps, groupBin, userId)
}

export async function memberUserIds (deps: MembershipDeps, groupId: string): Promise<readonly number[]> {
  const groupBin = groupBinOf(groupId)
  if (groupBin === null) return []
  const key = groupBin.toString('hex')
  const cached = deps.memberships.memberIds(key)
  if (cached !== null) return cached
  const userIds = await deps.repo.memberUserIds(groupBin)
  deps.memberships.rememberMemberIds(key, userIds)
  return userIds
}

export async function memberCount (deps: MembershipDeps, groupId: string): Promise<number> {
  const groupBin = groupBinOf(groupId)
  if (groupBin === null) return 0
  const key = groupBin.toString('hex')
  const cached = deps.memberships.memberCount(key)
  if (cached !== null) return cached
  const count = await deps.repo.memberCount(groupBin) ?? 0
  deps.memberships.rememberMemberCount(key, count)
  return count
}

export async function groupIdsOf (deps: MembershipDeps, userId: number): Promise<string[]> {
  return (await deps.repo.groupIdsOf(userId)).map(fromBin)
}
