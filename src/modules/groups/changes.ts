import type { Kysely } from 'kysely'
import type { Database, GroupType, MemberRole } from '../../../db/database.ts'
import type { ServerEvent } from '../../../schemas/events.ts'
import type { Group, GroupMember } from '../../../schemas/groups.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import type { Config } from '../../config.ts'
import type { Bus, BusTarget } from '../../plugins/bus.ts'
import type { AttachmentService } from '../attachments/service.ts'
import type { NewNotificationJob, NotificationJobs } from '../notifications/jobs.ts'
import type { UserService } from '../users/service.ts'
import { ROLE_RANK } from '../membership/guard.ts'
import type { MembershipCache } from '../membership/cache.ts'
import type { GroupRepository, MemberState } from './repository.ts'
import { capOf, requireGroupBin, toGroup, toGroupMember } from './views.ts'

/*
 * What every groups job shares: its dependencies, handed over once at registration, and the
 * one transactional shape of a membership change with its events published after commit.
 */

export interface GroupDeps {
  db: Kysely<Database>
  repo: GroupRepository
  memberships: MembershipCache
  users: UserService
  attachments: AttachmentService
  bus: Bus
  notificationJobs: NotificationJobs
  limits: Config['groups']
}

/** Events to publish once the transaction that caused them committed. */
export type Outbox = Array<[BusTarget, ServerEvent]>

export function publish (deps: GroupDeps, outbox: Outbox): void {
  for (const [target, event] of outbox) deps.bus.publish(target, event)
}

/** A notification job for a user someone else added to the group. */
export const addedJob = (groupBin: Buffer, actorId: number, userId: number): NewNotificationJob =>
  ({ kind: 'added_to_group', group_id: groupBin, message_id: null, actor_user_id: actorId, target_user_id: userId, emoji: null })

export const roleChangedEvent = (groupId: string, userId: number, role: MemberRole, changedBy: number): ServerEvent =>
  ({ type: 'chat:member_role_changed', payload: { groupId, userId, role, changedBy } })

/** A join seen by the group and by the user's other sessions. */
export function announceJoin (outbox: Outbox, groupId: string, userId: number, role: MemberRole, addedBy: number | null): void {
  const event: ServerEvent = { type: 'chat:member_joined', payload: { groupId, userId, role, addedBy } }
  outbox.push([{ groupId }, event], [{ userId }, event])
}

export function announceLeave (outbox: Outbox, groupId: string, userId: number, removedBy: number | null): void {
  const event: ServerEvent = { type: 'chat:member_left', payload: { groupId, userId, reason: removedBy === null ? 'left' : 'removed', removedBy } }
  outbox.push([{ groupId }, event], [{ userId }, event])
}

export const memberLimitOf = (deps: { limits: Config['groups'] }, type: GroupType): number =>
  type === 'broadcast' ? deps.limits.maxBroadcastMembers : deps.limits.maxMembers

/** The group as this member sees it; 404 for no group, 403 for a non-member. */
export async function groupView (deps: GroupDeps, groupBin: Buffer, userId: number): Promise<Group> {
  const row = await deps.repo.findGroupView(groupBin, userId)
  if (row !== null) return toGroup(row, userId, memberLimitOf(deps, row.type))
  const access = await deps.repo.findAccess(groupBin, userId)
  if (access === null) throw notFound('Group')
  throw forbidden('You are not a member of this group')
}

export interface LockedGroup {
  trx: Kysely<Database>
  groupBin: Buffer
  type: GroupType
  actor: MemberState
}

/**
 * Runs a membership change in one transaction holding the group row lock, with the actor's
 * role read under that lock (the guard's copy may be stale by then). Events go out after commit.
 */
export async function changeMembership<T> (deps: GroupDeps, groupId: string, actorId: number, change: (group: LockedGroup, outbox: Outbox) => Promise<T>): Promise<T> {
  const groupBin = requireGroupBin(groupId)
  const outbox: Outbox = []
  const result = await deps.db.transaction().execute(async (trx) => {
    const group = await deps.repo.lockGroup(groupBin, trx)
    if (group === null) throw notFound('Group')
    const actor = await deps.repo.findMember(groupBin, actorId, trx)
    if (actor === null) throw forbidden('You are not a member of this group')
    return await change({ trx, groupBin, type: group.type, actor }, outbox)
  })
  deps.memberships.forgetGroup(groupBin.toString('hex'))
  publish(deps, outbox)
  return result
}

export async function memberOf (deps: GroupDeps, groupBin: Buffer, userId: number, trx: Kysely<Database>): Promise<GroupMember> {
  const row = await deps.repo.findMemberWithUser(groupBin, userId, trx)
  if (row === null) throw notFound('Member')
  return toGroupMember(row)
}

export async function ensureRoom (deps: GroupDeps, groupBin: Buffer, type: GroupType, adding: number, trx: Kysely<Database>): Promise<void> {
  const cap = capOf(await deps.repo.maxMembersOf(groupBin, trx), memberLimitOf(deps, type))
  if (await deps.repo.countMembers(groupBin, trx) + adding > cap) {
    throw new AppError('CONFLICT', `This group holds at most ${cap} members`)
  }
}

/** A per-group cap as asked for: at most the server's limit for the group's type (400 otherwise). */
export function checkMaxMembers (maxMembers: number | null | undefined, limit: number): void {
  if (maxMembers != null && maxMembers > limit) {
    throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'maxMembers', message: `maxMembers must be at most ${limit}` }])
  }
}

/** May a holder of `actor` act on a holder of `target` (remove, change role)? Strictly below only. */
export const outranks = (actor: MemberRole, target: MemberRole): boolean => ROLE_RANK[actor] > ROLE_RANK[target]

/** Direct chats have no administration at all. */
export function noAdministration (type: GroupType, action: string): void {
  if (type === 'direct') throw forbidden(`Direct chats cannot ${action}`)
}
