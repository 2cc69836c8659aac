import fp from 'fastify-plugin'
import type { GroupType, MemberRole } from '../../../db/database.ts'
import { createMembershipCache, type MembershipCache } from './cache.ts'
import type { Membership } from './guard.ts'
import { accessOf, getMembership, groupIdsOf, memberCount, memberUserIds, type MembershipDeps } from './lookups.ts'
import { membershipQueries } from './repository.ts'

/*
 * Who is in which group, as chat, groups, the gateway and the guard ask it: one module they
 * all depend on, so none of them looks another area up to learn it. The groups area changes
 * memberships and drops the group's cache entries (`cache.forgetGroup`) after each change.
 */

export interface MembershipService {
  /** The one membership cache of this instance: groups forgets a group's entries after each change. */
  cache: MembershipCache
  /** The user's membership, or null when the group does not exist or they are not in it. */
  getMembership: (groupId: string, userId: number) => Promise<Membership | null>
  /** The group's type and the user's role in it (null if not a member); null for no group. */
  accessOf: (groupId: string, userId: number) => Promise<{ type: GroupType, role: MemberRole | null } | null>
  /** Every member's user id, as of at most MEMBERSHIP_CACHE_MS ago (changes on this instance at once): for counts, not access. */
  memberUserIds: (groupId: string) => Promise<readonly number[]>
  /** The group's member count, from its counter (0 when there is no such group): no member list is read. */
  memberCount: (groupId: string) => Promise<number>
  /** Every group the user is a member of. */
  groupIdsOf: (userId: number) => Promise<string[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    membershipService: MembershipService
  }
}

export function createMembershipService (deps: MembershipDeps): MembershipService {
  return {
    cache: deps.memberships,
    getMembership: async (groupId, userId) => await getMembership(deps, groupId, userId),
    accessOf: async (groupId, userId) => await accessOf(deps, groupId, userId),
    memberUserIds: async (groupId) => await memberUserIds(deps, groupId),
    memberCount: async (groupId) => await memberCount(deps, groupId),
    groupIdsOf: async (userId) => await groupIdsOf(deps, userId)
  }
}

/** Decorates the app with the membership lookups (fastify.membershipService) and request.membership for the guard. */
export default fp(async function membershipPlugin (fastify) {
  fastify.decorate('membershipService', createMembershipService({ repo: membershipQueries(fastify.db), memberships: createMembershipCache() }))
  fastify.decorateRequest('membership', null)
}, { name: 'membership', dependencies: ['db'] })
