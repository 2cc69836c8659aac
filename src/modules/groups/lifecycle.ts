import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import { isRaceLoss } from '../../../db/errors.ts'
import type { ServerEvent } from '../../../schemas/events.ts'
import type { CreateGroupRequest, Group, UpdateGroupRequest } from '../../../schemas/groups.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { recordJobs } from '../notifications/jobs.ts'
import {
  addedJob, announceJoin, announceLeave, changeMembership, checkMaxMembers, ensureRoom, groupView, memberLimitOf,
  noAdministration, outranks, publish, roleChangedEvent, type GroupDeps, type Outbox
} from './changes.ts'
import { canonicalGroupId, capOf, directKeyOf, requireGroupBin } from './views.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * A group's life: created (or a direct chat opened), edited, joined, left, deleted.
 */

export async function createGroup (deps: GroupDeps, creatorId: number, request: CreateGroupRequest): Promise<Group> {
  const memberIds = [...new Set(request.memberIds ?? [])].filter((id) => id !== creatorId)
  const missing = await deps.users.missingUserIds(memberIds)
  if (missing.length > 0) throw new AppError('NOT_FOUND', 'User not found', { userIds: missing })
  if ((await deps.users.blockersOf(creatorId, memberIds)).length > 0) {
    throw forbidden('A user in memberIds does not accept being added by you')
  }
  const limit = memberLimitOf(deps, request.type ?? 'group')
  checkMaxMembers(request.maxMembers, limit)
  const cap = capOf(request.maxMembers ?? null, limit)
  if (memberIds.length + 1 > cap) throw new AppError('CONFLICT', `This group holds at most ${cap} members`)

  const groupId = newId()
  const groupBin = toBin(groupId)
  const now = new Date()
  await deps.db.transaction().execute(async (trx) => {
    await deps.repo.insertGroup({
      id: groupBin,
      name: request.name.trim(),
      description: request.description ?? null,
      type: request.type ?? 'group',
      avatar_url: request.avatarUrl ?? null,
      created_by: creatorId,
      direct_key: null,
      max_members: request.maxMembers ?? null,
      last_activity_at: now,
      created_at: now,
      updated_at: now
    }, trx)
    await deps.repo.insertMembers(groupBin, [
      { userId: creatorId, role: 'owner' },
      ...memberIds.map((userId) => ({ userId, role: 'member' as const }))
    ], now, trx)
    await recordJobs(trx, memberIds.map((userId) => addedJob(groupBin, creatorId, userId)))
  })
  if (memberIds.length > 0) deps.notificationJobs.recorded()
  const outbox: Outbox = []
  announceJoin(outbox, groupId, creatorId, 'owner', null)
  for (const userId of memberIds) announceJoin(outbox, groupId, userId, 'member', creatorId)
  publish(deps, outbox)
  return await groupView(deps, groupBin, creatorId)
}

/** The pair's existing direct chat, with any membership another area removed (a deleted chat) restored. */
async function reopenDirectChat (deps: GroupDeps, groupBin: Buffer, userId: number, otherUserId: number): Promise<Group> {
  const groupId = fromBin(groupBin)
  const outbox: Outbox = []
  await deps.repo.unhide(groupBin, userId)
  for (const id of [userId, otherUserId]) {
    if (await deps.repo.insertMemberIfAbsent(groupBin, id, 'member')) announceJoin(outbox, groupId, id, 'member', id === userId ? null : userId)
  }
  publish(deps, outbox)
  return await groupView(deps, groupBin, userId)
}

export async function openDirectChat (deps: GroupDeps, userId: number, otherUserId: number): Promise<{ group: Group, created: boolean }> {
  if (otherUserId === userId) {
    throw new AppError('VALIDATION_ERROR', 'You cannot open a direct chat with yourself', undefined, [{ field: 'userId', message: 'userId must be another user' }])
  }
  await deps.users.getUser(otherUserId)
  if (await deps.users.isBlocked(otherUserId, userId)) throw forbidden('This user does not accept direct messages from you')

  const directKey = directKeyOf(userId, otherUserId)
  // Two callers racing both miss the read, both insert; the UNIQUE direct_key lets one
  // commit and fails the other, which then reads the winner's group. A few rounds at most.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const existing = await deps.repo.findDirectByKey(directKey)
    if (existing !== null) return { group: await reopenDirectChat(deps, existing, userId, otherUserId), created: false }
    const groupId = newId()
    const groupBin = toBin(groupId)
    const now = new Date()
    try {
      await deps.db.transaction().execute(async (trx) => {
        await deps.repo.insertGroup({
          id: groupBin,
          name: '',
          description: null,
          type: 'direct',
          avatar_url: null,
          created_by: userId,
          direct_key: directKey,
          last_activity_at: now,
          created_at: now,
          updated_at: now
        }, trx)
        await deps.repo.insertMembers(groupBin, [{ userId, role: 'member' }, { userId: otherUserId, role: 'member' }], now, trx)
      })
    } catch (err) {
      if (isRaceLoss(err)) continue
      throw err
    }
    const outbox: Outbox = []
    announceJoin(outbox, groupId, userId, 'member', null)
    announceJoin(outbox, groupId, otherUserId, 'member', userId)
    publish(deps, outbox)
    return { group: await groupView(deps, groupBin, userId), created: true }
  }
  throw new Error(`direct chat ${directKey} could not be created or read`)
}

export async function updateGroup (deps: GroupDeps, caller: Caller, changes: UpdateGroupRequest): Promise<Group> {
  const { groupId } = caller.membership
  const actorId = caller.user.id
  const updatedAt = new Date()
  const changed = await changeMembership(deps, groupId, actorId, async ({ trx, groupBin, type, actor }) => {
    noAdministration(type, 'be edited')
    if (!outranks(actor.role, 'member')) throw forbidden('Only a group admin or the owner can edit the group')
    const update: { name?: string, description?: string | null, avatar_url?: string | null } = {}
    if (changes.name !== undefined) update.name = changes.name.trim()
    if (changes.description !== undefined) update.description = changes.description
    if (changes.avatarUrl !== undefined) update.avatar_url = changes.avatarUrl
    if (changes.maxMembers !== undefined) {
      checkMaxMembers(changes.maxMembers, memberLimitOf(deps, type))
      const members = await deps.repo.countMembers(groupBin, trx)
      if (changes.maxMembers !== null && changes.maxMembers < members) {
        throw new AppError('CONFLICT', `The group has ${members} members: maxMembers cannot be below that`)
      }
      await deps.repo.setMaxMembers(groupBin, changes.maxMembers, trx)
    }
    if (Object.keys(update).length === 0 && changes.maxMembers === undefined) return false
    await deps.repo.updateGroup(groupBin, { ...update, updated_at: updatedAt }, trx)
    return true
  })
  if (changed) {
    deps.bus.publish({ groupId }, { type: 'chat:group_updated', payload: { groupId, updatedBy: actorId, updatedAt: updatedAt.toISOString() } })
  }
  return await groupView(deps, caller.membership.groupIdBin, actorId)
}

export async function joinGroup (deps: GroupDeps, groupId: string, userId: number): Promise<Group> {
  groupId = canonicalGroupId(groupId)
  const groupBin = requireGroupBin(groupId)
  const joined = await deps.db.transaction().execute(async (trx) => {
    const group = await deps.repo.lockGroup(groupBin, trx)
    if (group === null) throw notFound('Group')
    if (await deps.repo.findMember(groupBin, userId, trx) !== null) return false
    if (group.type !== 'public') throw forbidden('Only public groups can be joined; ask an admin to add you')
    await ensureRoom(deps, groupBin, group.type, 1, trx)
    await deps.repo.insertMembers(groupBin, [{ userId, role: 'member' }], new Date(), trx)
    return true
  })
  if (joined) {
    const outbox: Outbox = []
    announceJoin(outbox, groupId, userId, 'member', null)
    publish(deps, outbox)
  }
  return await groupView(deps, groupBin, userId)
}

/**
 * The one way a group ends (its owner deleting it, or its last member leaving): its rows,
 * search index, reports and data keys go in the caller's transaction, and after commit every
 * member is told on every instance, subscribed to the group or not.
 */
async function destroyGroup (deps: GroupDeps, groupId: string, groupBin: Buffer, deletedBy: number | null, trx: Kysely<Database>, outbox: Outbox, leaver?: number): Promise<void> {
  const memberIds = await deps.repo.memberUserIds(groupBin, trx)
  // The last member out is no member any more, but their other devices still show the group.
  if (leaver !== undefined) memberIds.push(leaver)
  await deps.repo.deleteGroup(groupBin, trx)
  const event: ServerEvent = { type: 'chat:group_deleted', payload: deletedBy === null ? { groupId } : { groupId, deletedBy } }
  outbox.push([{ groupId }, event])
  for (const userId of memberIds) outbox.push([{ userId }, event])
}

export async function deleteGroup (deps: GroupDeps, caller: Caller): Promise<void> {
  const { groupId } = caller.membership
  const actorId = caller.user.id
  await changeMembership(deps, groupId, actorId, async ({ trx, groupBin, type, actor }, outbox) => {
    noAdministration(type, 'be deleted for everyone; delete the chat for yourself instead')
    if (actor.role !== 'owner') throw forbidden('Only the owner can delete the group for everyone')
    await destroyGroup(deps, groupId, groupBin, actorId, trx, outbox)
  })
  // After the commit: the rows went with the group, the files go now.
  await deps.attachments.removeGroupFiles(groupId)
}

/** The user leaves, or is taken out by a system administrator (`removedBy`). */
export async function leaveGroup (deps: GroupDeps, groupId: string, userId: number, removedBy: number | null = null): Promise<void> {
  groupId = canonicalGroupId(groupId)
  const deleted = await changeMembership(deps, groupId, userId, async ({ trx, groupBin, type, actor }, outbox) => {
    noAdministration(type, removedBy === null ? 'be left' : 'lose members')
    await deps.repo.deleteMember(groupBin, userId, trx)
    announceLeave(outbox, groupId, userId, removedBy)
    if (await deps.repo.countMembers(groupBin, trx) === 0) {
      await destroyGroup(deps, groupId, groupBin, null, trx, outbox, userId)
      return true
    }
    if (actor.role === 'owner') {
      const heir = await deps.repo.nextOwner(groupBin, trx)
      if (heir !== null) {
        await deps.repo.setRole(groupBin, heir, 'owner', trx)
        outbox.push([{ groupId }, roleChangedEvent(groupId, heir, 'owner', removedBy ?? userId)])
      }
    }
    return false
  })
  // After the commit: the rows went with the group (cascade), the files go now.
  if (deleted) await deps.attachments.removeGroupFiles(groupId)
}
