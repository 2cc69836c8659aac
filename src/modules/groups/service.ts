import fp from 'fastify-plugin'
import type { MemberRole } from '../../../db/database.ts'
import type {
  AddMemberRequest, CreateGroupRequest, Group, GroupMember, UpdateGroupRequest
} from '../../../schemas/groups.ts'
import { groupView, type GroupDeps } from './changes.ts'
import { createGroup, deleteGroup, joinGroup, leaveGroup, openDirectChat, updateGroup } from './lifecycle.ts'
import { addMember, changeRole, listMembers, removeByModerator, removeMember } from './members.ts'
import type { Caller } from '../membership/guard.ts'
import type { MembershipService } from '../membership/service.ts'
import { createGroupRepository } from './repository.ts'

export { directKeyOf } from './views.ts'

/*
 * Who may do what in a group (ranks: owner 3 > admin 2 > member 1). One principle: nobody
 * acts on someone at or above their own rank except themselves, and nobody grants a role at
 * or above their own rank, except the owner transferring ownership. Direct chats have no
 * administration at all: two members, nobody added, removed, re-roled, nothing edited or left.
 *
 * | action                                   | member | admin | owner |
 * |------------------------------------------|--------|-------|-------|
 * | read the group and its members           |  yes   |  yes  |  yes  |
 * | edit name, description, avatar           |  no    |  yes  |  yes  |
 * | add a member (role member)               |  no    |  yes  |  yes  |
 * | add a member as admin                    |  no    |  no   |  yes  |
 * | remove a member                          |  no    |  yes  |  yes  |
 * | remove an admin                          |  no    |  no   |  yes  |
 * | remove the owner                         |  no    |  no   |   —   |
 * | promote a member to admin                |  no    |  no   |  yes  |
 * | demote an admin to member                |  no    |  no   |  yes  |
 * | step down oneself (admin → member)       |   —    |  yes  |  no¹  |
 * | transfer ownership (role 'owner')        |  no    |  no   |  yes² |
 * | leave (or remove oneself)                |  yes   |  yes  |  yes³ |
 *
 * ¹ a group always has an owner: the owner transfers ownership instead.
 * ² the previous owner becomes an admin.
 * ³ ownership passes to the longest-standing admin, else the longest-standing member; the
 *   last member leaving deletes the group.
 */

export interface GroupService {
  /** Creates a group owned by the creator; memberIds join as members. */
  createGroup: (creatorId: number, request: CreateGroupRequest) => Promise<Group>
  /** The direct chat of the two users, created on first use; race-free through direct_key. */
  openDirectChat: (userId: number, otherUserId: number) => Promise<{ group: Group, created: boolean }>
  /** The group as this member sees it. */
  getGroup: (caller: Caller) => Promise<Group>
  /** Changes name, description or avatar (admin or owner). */
  updateGroup: (caller: Caller, changes: UpdateGroupRequest) => Promise<Group>
  /** Joins a public group; joining one's own group again is a no-op. */
  joinGroup: (groupId: string, userId: number) => Promise<Group>
  /** Leaves the group, handing ownership on; the last member out deletes the group. */
  leaveGroup: (groupId: string, userId: number) => Promise<void>
  /** Deletes the group for everyone (its owner only): messages, keys and members go; every member is told. */
  deleteGroup: (caller: Caller) => Promise<void>
  /** The members, in joining order, for a caller whose membership is established. */
  listMembers: (caller: Caller) => Promise<GroupMember[]>
  /** Adds a user to the group (see the rule table). */
  addMember: (caller: Caller, request: AddMemberRequest) => Promise<GroupMember>
  /** Changes a member's role; 'owner' transfers ownership (see the rule table). */
  changeRole: (caller: Caller, targetUserId: number, role: MemberRole) => Promise<GroupMember>
  /** Removes a member (see the rule table); removing oneself is leaving. */
  removeMember: (caller: Caller, targetUserId: number) => Promise<void>
  /**
   * Removes a member on a system administrator's decision (moderation), whatever their role: as
   * if they left (ownership passes on, the last member out deletes the group), but announced as
   * removed by the administrator. False when they were not a member.
   */
  removeByModerator: (groupId: string, targetUserId: number, moderatorId: number) => Promise<boolean>
  // Who is in which group: the membership module's lookups (membership/service.ts), kept here
  // for the callers that hold the group service.
  getMembership: MembershipService['getMembership']
  accessOf: MembershipService['accessOf']
  memberUserIds: MembershipService['memberUserIds']
  memberCount: MembershipService['memberCount']
  groupIdsOf: MembershipService['groupIdsOf']
  /** True when the two users are members of a common group (a direct chat counts). */
  shareAGroup: (userId: number, otherUserId: number) => Promise<boolean>
  /** Everyone who shares a group with the user (the user too, when in any group). */
  peersOf: (userId: number) => Promise<number[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    groupService: GroupService
  }
}

/** The groups area's service: each job's function bound to the area's dependencies. */
export function assembleGroupService (deps: GroupDeps, membership: MembershipService): GroupService {
  return {
    createGroup: async (creatorId, request) => await createGroup(deps, creatorId, request),
    openDirectChat: async (userId, otherUserId) => await openDirectChat(deps, userId, otherUserId),
    getGroup: async (caller) => await groupView(deps, caller.membership.groupIdBin, caller.user.id),
    updateGroup: async (caller, changes) => await updateGroup(deps, caller, changes),
    joinGroup: async (groupId, userId) => await joinGroup(deps, groupId, userId),
    leaveGroup: async (groupId, userId) => { await leaveGroup(deps, groupId, userId) },
    deleteGroup: async (caller) => { await deleteGroup(deps, caller) },
    listMembers: async (caller) => await listMembers(deps, caller),
    addMember: async (caller, request) => await addMember(deps, caller, request),
    changeRole: async (caller, targetUserId, role) => await changeRole(deps, caller, targetUserId, role),
    removeMember: async (caller, targetUserId) => { await removeMember(deps, caller, targetUserId) },
    removeByModerator: async (groupId, targetUserId, moderatorId) => await removeByModerator(deps, groupId, targetUserId, moderatorId),
    getMembership: membership.getMembership,
    accessOf: membership.accessOf,
    memberUserIds: membership.memberUserIds,
    memberCount: membership.memberCount,
    groupIdsOf: membership.groupIdsOf,
    shareAGroup: async (userId, otherUserId) => await deps.repo.shareAGroup(userId, otherUserId),
    peersOf: async (userId) => await deps.repo.peersOf(userId)
  }
}

export default fp(async function groupServicePlugin (fastify) {
  const deps: GroupDeps = {
    db: fastify.db,
    repo: createGroupRepository(fastify.db),
    memberships: fastify.membershipService.cache,
    users: fastify.userService,
    attachments: fastify.attachmentService,
    bus: fastify.bus,
    notificationJobs: fastify.notificationJobs,
    limits: fastify.config.groups
  }
  fastify.decorate('groupService', assembleGroupService(deps, fastify.membershipService))
}, { name: 'group-service', dependencies: ['db', 'bus', 'membership', 'user-service', 'attachment-service', 'notification-jobs'] })
