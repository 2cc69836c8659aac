import type { MemberRole } from '../../../db/database.ts'
import type { AddMemberRequest, GroupMember } from '../../../schemas/groups.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import { recordJobs } from '../notifications/jobs.ts'
import {
  addedJob, announceJoin, announceLeave, changeMembership, ensureRoom, memberOf, noAdministration, outranks,
  roleChangedEvent, type GroupDeps
} from './changes.ts'
import type { Caller } from '../membership/guard.ts'
import { leaveGroup } from './lifecycle.ts'
import { requireGroupBin, toGroupMember } from './views.ts'

/*
 * The people of a group: listed, added, re-roled, removed (the rule table is in service.ts).
 */

export async function listMembers (deps: GroupDeps, caller: Caller): Promise<GroupMember[]> {
  return (await deps.repo.listMembers(caller.membership.groupIdBin)).map(toGroupMember)
}

export async function addMember (deps: GroupDeps, caller: Caller, request: AddMemberRequest): Promise<GroupMember> {
  const { groupId } = caller.membership
  const actorId = caller.user.id
  const role = request.role ?? 'member'
  let notifyAfterCommit = false
  const member = await changeMembership(deps, groupId, actorId, async ({ trx, groupBin, type, actor }, outbox) => {
    noAdministration(type, 'take more members')
    if (!outranks(actor.role, role)) {
      throw forbidden(role === 'admin' ? 'Only the owner can add admins' : 'Only a group admin or the owner can add members')
    }
    await deps.users.getUser(request.userId)
    if (await deps.repo.findMember(groupBin, request.userId, trx) !== null) throw new AppError('CONFLICT', 'The user is already a member of this group')
    if (await deps.users.isBlocked(request.userId, actorId)) throw forbidden('This user does not accept being added by you')
    await ensureRoom(deps, groupBin, type, 1, trx)
    await deps.repo.insertMembers(groupBin, [{ userId: request.userId, role }], new Date(), trx)
    await recordJobs(trx, [addedJob(groupBin, actorId, request.userId)])
    notifyAfterCommit = true
    announceJoin(outbox, groupId, request.userId, role, actorId)
    return await memberOf(deps, groupBin, request.userId, trx)
  })
  if (notifyAfterCommit) deps.notificationJobs.recorded()
  return member
}

export async function changeRole (deps: GroupDeps, caller: Caller, targetUserId: number, role: MemberRole): Promise<GroupMember> {
  const { groupId } = caller.membership
  const actorId = caller.user.id
  return await changeMembership(deps, groupId, actorId, async ({ trx, groupBin, type, actor }, outbox) => {
    noAdministration(type, 'change roles')
    const target = await deps.repo.findMember(groupBin, targetUserId, trx)
    if (target === null) throw notFound('Member')
    if (target.role !== role) {
      if (role === 'owner') {
        if (actor.role !== 'owner') throw forbidden('Only the owner can transfer ownership')
        await deps.repo.setRole(groupBin, targetUserId, 'owner', trx)
        await deps.repo.setRole(groupBin, actorId, 'admin', trx)
        outbox.push([{ groupId }, roleChangedEvent(groupId, targetUserId, 'owner', actorId)])
        outbox.push([{ groupId }, roleChangedEvent(groupId, actorId, 'admin', actorId)])
      } else {
        if (targetUserId === actorId) {
          if (actor.role === 'owner') throw forbidden('The owner cannot step down; transfer ownership instead')
          if (!outranks(actor.role, role)) throw forbidden('You cannot promote yourself')
        } else if (!outranks(actor.role, target.role) || !outranks(actor.role, role)) {
          throw forbidden(actor.role === 'member' ? 'Only the owner can change roles' : 'Only the owner can change the role of an admin or grant admin')
        }
        await deps.repo.setRole(groupBin, targetUserId, role, trx)
        outbox.push([{ groupId }, roleChangedEvent(groupId, targetUserId, role, actorId)])
      }
    }
    return await memberOf(deps, groupBin, targetUserId, trx)
  })
}

export async function removeMember (deps: GroupDeps, caller: Caller, targetUserId: number): Promise<void> {
  const { groupId } = caller.membership
  const actorId = caller.user.id
  if (targetUserId === actorId) {
    await leaveGroup(deps, groupId, actorId)
    return
  }
  await changeMembership(deps, groupId, actorId, async ({ trx, groupBin, type, actor }, outbox) => {
    noAdministration(type, 'lose members')
    const target = await deps.repo.findMember(groupBin, targetUserId, trx)
    if (target === null) throw notFound('Member')
    if (!outranks(actor.role, target.role)) {
      throw forbidden(actor.role === 'member' ? 'Only a group admin or the owner can remove members' : 'Only the owner can remove an admin, and nobody the owner')
    }
    await deps.repo.deleteMember(groupBin, targetUserId, trx)
    announceLeave(outbox, groupId, targetUserId, actorId)
  })
}

export async function removeByModerator (deps: GroupDeps, groupId: string, targetUserId: number, moderatorId: number): Promise<boolean> {
  // Read uncached: a member who left a moment ago is not removed again.
  if (await deps.repo.findMember(requireGroupBin(groupId), targetUserId) === null) return false
  await leaveGroup(deps, groupId, targetUserId, moderatorId)
  return true
}
