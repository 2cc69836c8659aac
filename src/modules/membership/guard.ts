import type { FastifyReply, FastifyRequest } from 'fastify'
import type { MemberRole } from '../../../db/database.ts'
import { AppError } from '../../lib/app-error.ts'
import { toBin } from '../../lib/ids.ts'
import type { AuthUser } from '../../plugins/auth.ts'

/** The caller's membership in the group of the route, loaded once per request. */
export interface Membership {
  groupId: string
  /** BINARY(16) of groupId. Elsewhere a binary id is `<name>Bin` (groupBin, messageBin); this field keeps its older name, which every area and the tests read. */
  groupIdBin: Buffer
  role: MemberRole
  groupType: 'direct' | 'group' | 'public' | 'broadcast'
}

/** Who acts: the authenticated user and their membership in the group, loaded once per request or command. */
export interface Caller {
  user: AuthUser
  membership: Membership
}

declare module 'fastify' {
  interface FastifyRequest {
    membership: Membership | null
  }
}

export const ROLE_RANK: Record<MemberRole, number> = { member: 1, admin: 2, owner: 3 }

/** True when `role` is at least `minimum` (owner > admin > member). */
export const hasRole = (role: MemberRole, minimum: MemberRole): boolean => ROLE_RANK[role] >= ROLE_RANK[minimum]

/**
 * preHandler for every route under /groups/:groupId: the group must exist and the caller be
 * a member. A group the caller cannot see answers 404, one they are not in answers 403.
 */
export async function requireMembership (this: unknown, request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const { groupId } = request.params as { groupId?: string }
  if (groupId === undefined) throw new AppError('NOT_FOUND', 'Group not found')
  const access = await request.server.membershipService.accessOf(groupId, request.user.id)
  if (access === null) throw new AppError('NOT_FOUND', 'Group not found')
  if (access.role === null) throw new AppError('FORBIDDEN', 'You are not a member of this group')
  request.membership = { groupId, groupIdBin: toBin(groupId), role: access.role, groupType: access.type }
}

/** The membership set by requireMembership; a programming error if the guard did not run. */
export function membershipOf (request: FastifyRequest): Membership {
  if (request.membership === null || request.membership === undefined) throw new Error('requireMembership did not run for this route')
  return request.membership
}

/** The caller of a route behind requireMembership: the user and the membership the guard loaded. */
export const callerOf = (request: FastifyRequest): Caller => ({ user: request.user, membership: membershipOf(request) })

/** Throws FORBIDDEN unless the caller's role is at least `minimum`. */
export function requireRole (membership: Membership, minimum: MemberRole, action: string): void {
  if (!hasRole(membership.role, minimum)) throw new AppError('FORBIDDEN', `Only a group ${minimum} or above can ${action}`)
}
