import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database, GroupType, MemberRole } from '../../../db/database.ts'
import { isRaceLoss } from '../../../db/errors.ts'
import type { ServerEvent } from '../../../schemas/events.ts'
import type {
  AddMemberRequest, ChatListItem, ChatListQuery, ChatListResponse, CreateGroupRequest, Group, GroupMember,
  UpdateGroupRequest
} from '../../../schemas/groups.ts'
import { AppError, forbidden, notFound } from '../../lib/app-error.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import type { BusTarget } from '../../plugins/bus.ts'
import { toUserProfile } from '../users/service.ts'
import { ROLE_RANK, type Membership } from './guard.ts'
import type { ChatSummary } from '../chat/service.ts'
import { createMembershipCache } from './membership-cache.ts'
import { recordJobs, type NewNotificationJob } from '../notifications/jobs.ts'
import {
  createGroupRepository, type ChatListPosition, type GroupViewRow, type MemberState, type MemberWithUserRow
} from './repository.ts'

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

/** May a holder of `actor` act on a holder of `target` (remove, change role)? Strictly below only. */
const outranks = (actor: MemberRole, target: MemberRole): boolean => ROLE_RANK[actor] > ROLE_RANK[target]

export interface GroupService {
  /** Creates a group owned by the creator; memberIds join as members. */
  createGroup: (creatorId: number, request: CreateGroupRequest) => Promise<Group>
  /** The direct chat of the two users, created on first use; race-free through direct_key. */
  openDirectChat: (userId: number, otherUserId: number) => Promise<{ group: Group, created: boolean }>
  /** A page of the user's chat list, most recent activity first. */
  chatList: (userId: number, query: ChatListQuery) => Promise<ChatListResponse>
  /** The group as this member sees it. */
  getGroup: (groupId: string, userId: number) => Promise<Group>
  /** Changes name, description or avatar (admin or owner). */
  updateGroup: (groupId: string, actorId: number, changes: UpdateGroupRequest) => Promise<Group>
  /** Joins a public group; joining one's own group again is a no-op. */
  joinGroup: (groupId: string, userId: number) => Promise<Group>
  /** Leaves the group, handing ownership on; the last member out deletes the group. */
  leaveGroup: (groupId: string, userId: number) => Promise<void>
  /** Deletes the group for everyone (its owner only): messages, keys and members go; every member is told. */
  deleteGroup: (groupId: string, actorId: number) => Promise<void>
  /** The members, in joining order, for a caller whose membership is established. */
  listMembers: (membership: Membership) => Promise<GroupMember[]>
  /** Adds a user to the group (see the rule table). */
  addMember: (groupId: string, actorId: number, request: AddMemberRequest) => Promise<GroupMember>
  /** Changes a member's role; 'owner' transfers ownership (see the rule table). */
  changeRole: (groupId: string, actorId: number, targetUserId: number, role: MemberRole) => Promise<GroupMember>
  /** Removes a member (see the rule table); removing oneself is leaving. */
  removeMember: (groupId: string, actorId: number, targetUserId: number) => Promise<void>
  /**
   * Removes a member on a system administrator's decision (moderation), whatever their role: as
   * if they left (ownership passes on, the last member out deletes the group), but announced as
   * removed by the administrator. False when they were not a member.
   */
  removeByModerator: (groupId: string, targetUserId: number, moderatorId: number) => Promise<boolean>
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

type Outbox = Array<[BusTarget, ServerEvent]>

/**
 * A group id from another area in the one form events, subscriptions and caches use. The
 * edges lower-case UUIDs already (DESIGN §6); callers inside the process may not have.
 */
const canonicalGroupId = (groupId: string): string => groupId.toLowerCase()

/** A UUID from outside (WS frames, other areas) as BINARY(16); a malformed id is no group. */
function groupIdBinOf (groupId: string): Buffer | null {
  try { return toBin(groupId) } catch { return null }
}

function requireGroupIdBin (groupId: string): Buffer {
  const bin = groupIdBinOf(groupId)
  if (bin === null) throw notFound('Group')
  return bin
}

/** "minId:maxId": the unique key of two users' direct chat. */
export const directKeyOf = (a: number, b: number): string => `${Math.min(a, b)}:${Math.max(a, b)}`

function peerOf (directKey: string | null, userId: number): number | null {
  if (directKey === null) return null
  const [a, b] = directKey.split(':').map(Number)
  if (a === undefined || b === undefined) return null
  return a === userId ? b : a
}

/** A group's member cap: its own, never above the server's limit for its type. */
const capOf = (maxMembers: number | null, limit: number): number => Math.min(maxMembers ?? limit, limit)

function toGroup (row: GroupViewRow, userId: number, limit: number): Group {
  return {
    id: fromBin(row.id),
    name: row.name,
    description: row.description,
    type: row.type,
    avatarUrl: row.avatar_url,
    createdBy: row.created_by,
    memberCount: Number(row.member_count ?? 0),
    myRole: row.role,
    peerUserId: peerOf(row.direct_key, userId),
    maxMembers: capOf(row.max_members, limit),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

/**
 * The one mapping of a chat-list row. `summary` comes from the messages area in one batched
 * lookup per page: the newest message visible to the user (after cleared_seq) and the unread
 * count derived from the read and clear watermarks.
 */
function toChatListItem (row: GroupViewRow, userId: number, summary: ChatSummary | undefined, limit: number): ChatListItem {
  return {
    ...toGroup(row, userId, limit),
    // showPreviews off: the chat list names the last message but quotes none of it.
    lastMessage: summary?.lastMessage == null ? null : row.show_previews ? summary.lastMessage : { ...summary.lastMessage, preview: null },
    unreadCount: summary?.unreadCount ?? 0,
    archived: Number(row.archived_now) === 1,
    pinned: row.pinned,
    mutedUntil: row.muted_until === null ? null : row.muted_until.toISOString()
  }
}

function toGroupMember (row: MemberWithUserRow): GroupMember {
  return { userId: row.user_id, role: row.role, joinedAt: row.joined_at.toISOString(), user: toUserProfile(row) }
}

/** The opaque chat-list cursor: the last row's position, base64url("<pinned 0|1>:<ms>:<uuid>"). */
function encodeCursor (row: GroupViewRow): string {
  return Buffer.from(`${row.pinned ? 1 : 0}:${row.last_activity_at.getTime()}:${fromBin(row.id)}`).toString('base64url')
}

/** Reads a cursor; one without the pinned part (an older server's) was among unpinned chats. */
function decodeCursor (cursor: string): ChatListPosition {
  const match = /^(?:([01]):)?(\d{1,15}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  const id = match?.[3] === undefined ? null : groupIdBinOf(match[3])
  if (match?.[2] === undefined || id === null) {
    throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'cursor', message: 'cursor is not one this API returned' }])
  }
  return { pinned: match[1] === '1', activityAt: new Date(Number(match[2])), id }
}

/** A notification job for a user someone else added to the group. */
const addedJob = (groupIdBin: Buffer, actorId: number, userId: number): NewNotificationJob =>
  ({ kind: 'added_to_group', group_id: groupIdBin, message_id: null, actor_user_id: actorId, target_user_id: userId, emoji: null })

const joinedEvent = (groupId: string, userId: number, role: MemberRole, addedBy: number | null): ServerEvent =>
  ({ type: 'chat:member_joined', payload: { groupId, userId, role, addedBy } })

const leftEvent = (groupId: string, userId: number, removedBy: number | null): ServerEvent =>
  ({ type: 'chat:member_left', payload: { groupId, userId, reason: removedBy === null ? 'left' : 'removed', removedBy } })

const roleChangedEvent = (groupId: string, userId: number, role: MemberRole, changedBy: number): ServerEvent =>
  ({ type: 'chat:member_role_changed', payload: { groupId, userId, role, changedBy } })

export default fp(async function groupServicePlugin (fastify) {
  const groups = createGroupRepository(fastify.db)
  const attachments = fastify.attachmentService
  const users = fastify.userService
  const memberships = createMembershipCache()

  /** The group's type and the user's role, from the membership cache when they were seen a moment ago. */
  async function accessByBin (groupIdBin: Buffer, userId: number): Promise<{ type: GroupType, role: MemberRole | null } | null> {
    const key = groupIdBin.toString('hex')
    const cached = memberships.get(key, userId)
    if (cached !== null) return cached
    const access = await groups.findAccess(groupIdBin, userId)
    if (access?.role != null) memberships.remember(key, userId, { type: access.type, role: access.role })
    return access
  }

  fastify.decorateRequest('membership', null)

  function publish (outbox: Outbox): void {
    for (const [target, event] of outbox) fastify.bus.publish(target, event)
  }

  /** A join seen by the group and by the user's other sessions. */
  function announceJoin (outbox: Outbox, groupId: string, userId: number, role: MemberRole, addedBy: number | null): void {
    const event = joinedEvent(groupId, userId, role, addedBy)
    outbox.push([{ groupId }, event], [{ userId }, event])
  }

  function announceLeave (outbox: Outbox, groupId: string, userId: number, removedBy: number | null): void {
    const event = leftEvent(groupId, userId, removedBy)
    outbox.push([{ groupId }, event], [{ userId }, event])
  }

  async function groupView (groupIdBin: Buffer, userId: number): Promise<Group> {
    const row = await groups.findGroupView(groupIdBin, userId)
    if (row !== null) return toGroup(row, userId, memberLimitOf(row.type))
    const access = await groups.findAccess(groupIdBin, userId)
    if (access === null) throw notFound('Group')
    throw forbidden('You are not a member of this group')
  }

  interface LockedGroup {
    trx: Kysely<Database>
    groupIdBin: Buffer
    type: GroupType
    actor: MemberState
  }

  /**
   * Runs a membership change in one transaction holding the group row lock, with the actor's
   * role read under that lock (the guard's copy may be stale by then). Events go out after commit.
   */
  async function changeMembership<T> (groupId: string, actorId: number, change: (group: LockedGroup, outbox: Outbox) => Promise<T>): Promise<T> {
    const groupIdBin = requireGroupIdBin(groupId)
    const outbox: Outbox = []
    const result = await fastify.db.transaction().execute(async (trx) => {
      const group = await groups.lockGroup(groupIdBin, trx)
      if (group === null) throw notFound('Group')
      const actor = await groups.findMember(groupIdBin, actorId, trx)
      if (actor === null) throw forbidden('You are not a member of this group')
      return await change({ trx, groupIdBin, type: group.type, actor }, outbox)
    })
    memberships.forgetGroup(groupIdBin.toString('hex'))
    publish(outbox)
    return result
  }

  async function memberOf (groupIdBin: Buffer, userId: number, trx: Kysely<Database>): Promise<GroupMember> {
    const row = await groups.findMemberWithUser(groupIdBin, userId, trx)
    if (row === null) throw notFound('Member')
    return toGroupMember(row)
  }

  const memberLimitOf = (type: GroupType): number => type === 'broadcast' ? fastify.config.groups.maxBroadcastMembers : fastify.config.groups.maxMembers

  async function ensureRoom (groupIdBin: Buffer, type: GroupType, adding: number, trx: Kysely<Database>): Promise<void> {
    const cap = capOf(await groups.maxMembersOf(groupIdBin, trx), memberLimitOf(type))
    if (await groups.countMembers(groupIdBin, trx) + adding > cap) {
      throw new AppError('CONFLICT', `This group holds at most ${cap} members`)
    }
  }

  /** A per-group cap as asked for: at most the server's limit for the group's type (400 otherwise). */
  function checkMaxMembers (maxMembers: number | null | undefined, limit: number): void {
    if (maxMembers != null && maxMembers > limit) {
      throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'maxMembers', message: `maxMembers must be at most ${limit}` }])
    }
  }

  /**
   * The one way a group ends (its owner deleting it, or its last member leaving): its rows,
   * search index, reports and data keys go in the caller's transaction, and after commit every
   * member is told on every instance, subscribed to the group or not.
   */
  async function destroyGroup (groupId: string, groupIdBin: Buffer, deletedBy: number | null, trx: Kysely<Database>, outbox: Outbox, leaver?: number): Promise<void> {
    const memberIds = await groups.memberUserIds(groupIdBin, trx)
    // The last member out is no member any more, but their other devices still show the group.
    if (leaver !== undefined) memberIds.push(leaver)
    await groups.deleteGroup(groupIdBin, trx)
    const event: ServerEvent = { type: 'chat:group_deleted', payload: deletedBy === null ? { groupId } : { groupId, deletedBy } }
    outbox.push([{ groupId }, event])
    for (const userId of memberIds) outbox.push([{ userId }, event])
  }

  const noAdministration = (type: GroupType, action: string): void => {
    if (type === 'direct') throw forbidden(`Direct chats cannot ${action}`)
  }

  /** The user leaves, or is taken out by a system administrator (`removedBy`). */
  async function leave (groupId: string, userId: number, removedBy: number | null = null): Promise<void> {
    groupId = canonicalGroupId(groupId)
    const deleted = await changeMembership(groupId, userId, async ({ trx, groupIdBin, type, actor }, outbox) => {
      noAdministration(type, removedBy === null ? 'be left' : 'lose members')
      await groups.deleteMember(groupIdBin, userId, trx)
      announceLeave(outbox, groupId, userId, removedBy)
      if (await groups.countMembers(groupIdBin, trx) === 0) {
        await destroyGroup(groupId, groupIdBin, null, trx, outbox, userId)
        return true
      }
      if (actor.role === 'owner') {
        const heir = await groups.nextOwner(groupIdBin, trx)
        if (heir !== null) {
          await groups.setRole(groupIdBin, heir, 'owner', trx)
          outbox.push([{ groupId }, roleChangedEvent(groupId, heir, 'owner', removedBy ?? userId)])
        }
      }
      return false
    })
    // After the commit: the rows went with the group (cascade), the files go now.
    if (deleted) await attachments.removeGroupFiles(groupId)
  }

  const service: GroupService = {
    async createGroup (creatorId, request) {
      const memberIds = [...new Set(request.memberIds ?? [])].filter((id) => id !== creatorId)
      const missing = await users.missingUserIds(memberIds)
      if (missing.length > 0) throw new AppError('NOT_FOUND', 'User not found', { userIds: missing })
      if ((await users.blockersOf(creatorId, memberIds)).length > 0) {
        throw forbidden('A user in memberIds does not accept being added by you')
      }
      const limit = memberLimitOf(request.type ?? 'group')
      checkMaxMembers(request.maxMembers, limit)
      const cap = capOf(request.maxMembers ?? null, limit)
      if (memberIds.length + 1 > cap) throw new AppError('CONFLICT', `This group holds at most ${cap} members`)

      const groupId = newId()
      const groupIdBin = toBin(groupId)
      const now = new Date()
      await fastify.db.transaction().execute(async (trx) => {
        await groups.insertGroup({
          id: groupIdBin,
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
        await groups.insertMembers(groupIdBin, [
          { userId: creatorId, role: 'owner' },
          ...memberIds.map((userId) => ({ userId, role: 'member' as const }))
        ], now, trx)
        await recordJobs(trx, memberIds.map((userId) => addedJob(groupIdBin, creatorId, userId)))
      })
      if (memberIds.length > 0) fastify.notificationJobs.recorded()
      const outbox: Outbox = []
      announceJoin(outbox, groupId, creatorId, 'owner', null)
      for (const userId of memberIds) announceJoin(outbox, groupId, userId, 'member', creatorId)
      publish(outbox)
      return await groupView(groupIdBin, creatorId)
    },

    async openDirectChat (userId, otherUserId) {
      if (otherUserId === userId) {
        throw new AppError('VALIDATION_ERROR', 'You cannot open a direct chat with yourself', undefined, [{ field: 'userId', message: 'userId must be another user' }])
      }
      await users.getUser(otherUserId)
      if (await users.isBlocked(otherUserId, userId)) throw forbidden('This user does not accept direct messages from you')

      const directKey = directKeyOf(userId, otherUserId)
      // Two callers racing both miss the read, both insert; the UNIQUE direct_key lets one
      // commit and fails the other, which then reads the winner's group. A few rounds at most.
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const existing = await groups.findDirectByKey(directKey)
        if (existing !== null) {
          // Restores a membership another area removed (a deleted chat): the pair's chat is one.
          const groupId = fromBin(existing)
          const outbox: Outbox = []
          await groups.unhide(existing, userId)
          for (const id of [userId, otherUserId]) {
            if (await groups.insertMemberIfAbsent(existing, id, 'member')) announceJoin(outbox, groupId, id, 'member', id === userId ? null : userId)
          }
          publish(outbox)
          return { group: await groupView(existing, userId), created: false }
        }
        const groupId = newId()
        const groupIdBin = toBin(groupId)
        const now = new Date()
        try {
          await fastify.db.transaction().execute(async (trx) => {
            await groups.insertGroup({
              id: groupIdBin,
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
            await groups.insertMembers(groupIdBin, [{ userId, role: 'member' }, { userId: otherUserId, role: 'member' }], now, trx)
          })
        } catch (err) {
          if (isRaceLoss(err)) continue
          throw err
        }
        const outbox: Outbox = []
        announceJoin(outbox, groupId, userId, 'member', null)
        announceJoin(outbox, groupId, otherUserId, 'member', userId)
        publish(outbox)
        return { group: await groupView(groupIdBin, userId), created: true }
      }
      throw new Error(`direct chat ${directKey} could not be created or read`)
    },

    async chatList (userId, query) {
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor)
      const rows = await groups.chatListPage(userId, query.archived, after, query.limit + 1)
      const hasMore = rows.length > query.limit
      const page = hasMore ? rows.slice(0, query.limit) : rows
      const last = page.at(-1)
      const summaries = await fastify.chatService.chatSummaries(userId, page.map((row) => fromBin(row.id)))
      return {
        groups: page.map((row) => toChatListItem(row, userId, summaries.get(fromBin(row.id)), memberLimitOf(row.type))),
        nextCursor: hasMore && last !== undefined ? encodeCursor(last) : null,
        hasMore
      }
    },

    async getGroup (groupId, userId) {
      return await groupView(requireGroupIdBin(groupId), userId)
    },

    async updateGroup (groupId, actorId, changes) {
      groupId = canonicalGroupId(groupId)
      const updatedAt = new Date()
      const changed = await changeMembership(groupId, actorId, async ({ trx, groupIdBin, type, actor }) => {
        noAdministration(type, 'be edited')
        if (!outranks(actor.role, 'member')) throw forbidden('Only a group admin or the owner can edit the group')
        const update: { name?: string, description?: string | null, avatar_url?: string | null } = {}
        if (changes.name !== undefined) update.name = changes.name.trim()
        if (changes.description !== undefined) update.description = changes.description
        if (changes.avatarUrl !== undefined) update.avatar_url = changes.avatarUrl
        if (changes.maxMembers !== undefined) {
          checkMaxMembers(changes.maxMembers, memberLimitOf(type))
          const members = await groups.countMembers(groupIdBin, trx)
          if (changes.maxMembers !== null && changes.maxMembers < members) {
            throw new AppError('CONFLICT', `The group has ${members} members: maxMembers cannot be below that`)
          }
          await groups.setMaxMembers(groupIdBin, changes.maxMembers, trx)
        }
        if (Object.keys(update).length === 0 && changes.maxMembers === undefined) return false
        await groups.updateGroup(groupIdBin, { ...update, updated_at: updatedAt }, trx)
        return true
      })
      if (changed) {
        fastify.bus.publish({ groupId }, { type: 'chat:group_updated', payload: { groupId, updatedBy: actorId, updatedAt: updatedAt.toISOString() } })
      }
      return await groupView(requireGroupIdBin(groupId), actorId)
    },

    async joinGroup (groupId, userId) {
      groupId = canonicalGroupId(groupId)
      const groupIdBin = requireGroupIdBin(groupId)
      const joined = await fastify.db.transaction().execute(async (trx) => {
        const group = await groups.lockGroup(groupIdBin, trx)
        if (group === null) throw notFound('Group')
        if (await groups.findMember(groupIdBin, userId, trx) !== null) return false
        if (group.type !== 'public') throw forbidden('Only public groups can be joined; ask an admin to add you')
        await ensureRoom(groupIdBin, group.type, 1, trx)
        await groups.insertMembers(groupIdBin, [{ userId, role: 'member' }], new Date(), trx)
        return true
      })
      if (joined) {
        const outbox: Outbox = []
        announceJoin(outbox, groupId, userId, 'member', null)
        publish(outbox)
      }
      return await groupView(groupIdBin, userId)
    },

    leaveGroup: leave,

    async deleteGroup (groupId, actorId) {
      groupId = canonicalGroupId(groupId)
      await changeMembership(groupId, actorId, async ({ trx, groupIdBin, type, actor }, outbox) => {
        noAdministration(type, 'be deleted for everyone; delete the chat for yourself instead')
        if (actor.role !== 'owner') throw forbidden('Only the owner can delete the group for everyone')
        await destroyGroup(groupId, groupIdBin, actorId, trx, outbox)
      })
      // After the commit: the rows went with the group, the files go now.
      await attachments.removeGroupFiles(groupId)
    },

    async listMembers (membership) {
      return (await groups.listMembers(membership.groupIdBin)).map(toGroupMember)
    },

    async addMember (groupId, actorId, request) {
      groupId = canonicalGroupId(groupId)
      const role = request.role ?? 'member'
      let notifyAfterCommit = false
      const member = await changeMembership(groupId, actorId, async ({ trx, groupIdBin, type, actor }, outbox) => {
        noAdministration(type, 'take more members')
        if (!outranks(actor.role, role)) {
          throw forbidden(role === 'admin' ? 'Only the owner can add admins' : 'Only a group admin or the owner can add members')
        }
        await users.getUser(request.userId)
        if (await groups.findMember(groupIdBin, request.userId, trx) !== null) throw new AppError('CONFLICT', 'The user is already a member of this group')
        if (await users.isBlocked(request.userId, actorId)) throw forbidden('This user does not accept being added by you')
        await ensureRoom(groupIdBin, type, 1, trx)
        await groups.insertMembers(groupIdBin, [{ userId: request.userId, role }], new Date(), trx)
        await recordJobs(trx, [addedJob(groupIdBin, actorId, request.userId)])
        notifyAfterCommit = true
        announceJoin(outbox, groupId, request.userId, role, actorId)
        return await memberOf(groupIdBin, request.userId, trx)
      })
      if (notifyAfterCommit) fastify.notificationJobs.recorded()
      return member
    },

    async changeRole (groupId, actorId, targetUserId, role) {
      groupId = canonicalGroupId(groupId)
      return await changeMembership(groupId, actorId, async ({ trx, groupIdBin, type, actor }, outbox) => {
        noAdministration(type, 'change roles')
        const target = await groups.findMember(groupIdBin, targetUserId, trx)
        if (target === null) throw notFound('Member')
        if (target.role !== role) {
          if (role === 'owner') {
            if (actor.role !== 'owner') throw forbidden('Only the owner can transfer ownership')
            await groups.setRole(groupIdBin, targetUserId, 'owner', trx)
            await groups.setRole(groupIdBin, actorId, 'admin', trx)
            outbox.push([{ groupId }, roleChangedEvent(groupId, targetUserId, 'owner', actorId)])
            outbox.push([{ groupId }, roleChangedEvent(groupId, actorId, 'admin', actorId)])
          } else {
            if (targetUserId === actorId) {
              if (actor.role === 'owner') throw forbidden('The owner cannot step down; transfer ownership instead')
              if (!outranks(actor.role, role)) throw forbidden('You cannot promote yourself')
            } else if (!outranks(actor.role, target.role) || !outranks(actor.role, role)) {
              throw forbidden(actor.role === 'member' ? 'Only the owner can change roles' : 'Only the owner can change the role of an admin or grant admin')
            }
            await groups.setRole(groupIdBin, targetUserId, role, trx)
            outbox.push([{ groupId }, roleChangedEvent(groupId, targetUserId, role, actorId)])
          }
        }
        return await memberOf(groupIdBin, targetUserId, trx)
      })
    },

    async removeMember (groupId, actorId, targetUserId) {
      groupId = canonicalGroupId(groupId)
      if (targetUserId === actorId) {
        await leave(groupId, actorId)
        return
      }
      await changeMembership(groupId, actorId, async ({ trx, groupIdBin, type, actor }, outbox) => {
        noAdministration(type, 'lose members')
        const target = await groups.findMember(groupIdBin, targetUserId, trx)
        if (target === null) throw notFound('Member')
        if (!outranks(actor.role, target.role)) {
          throw forbidden(actor.role === 'member' ? 'Only a group admin or the owner can remove members' : 'Only the owner can remove an admin, and nobody the owner')
        }
        await groups.deleteMember(groupIdBin, targetUserId, trx)
        announceLeave(outbox, groupId, targetUserId, actorId)
      })
    },

    async removeByModerator (groupId, targetUserId, moderatorId) {
      // Read uncached: a member who left a moment ago is not removed again.
      if (await groups.findMember(requireGroupIdBin(groupId), targetUserId) === null) return false
      await leave(groupId, targetUserId, moderatorId)
      return true
    },

    async getMembership (groupId, userId) {
      groupId = canonicalGroupId(groupId)
      const groupIdBin = groupIdBinOf(groupId)
      if (groupIdBin === null) return null
      const access = await accessByBin(groupIdBin, userId)
      if (access?.role == null) return null
      return { groupId, groupIdBin, role: access.role, groupType: access.type }
    },

    async accessOf (groupId, userId) {
      const groupIdBin = groupIdBinOf(groupId)
      return groupIdBin === null ? null : await accessByBin(groupIdBin, userId)
    },

    async memberUserIds (groupId) {
      const groupIdBin = groupIdBinOf(groupId)
      if (groupIdBin === null) return []
      const key = groupIdBin.toString('hex')
      const cached = memberships.memberIds(key)
      if (cached !== null) return cached
      const userIds = await groups.memberUserIds(groupIdBin)
      memberships.rememberMemberIds(key, userIds)
      return userIds
    },

    async memberCount (groupId) {
      const groupIdBin = groupIdBinOf(groupId)
      if (groupIdBin === null) return 0
      const key = groupIdBin.toString('hex')
      const cached = memberships.memberCount(key)
      if (cached !== null) return cached
      const count = await groups.memberCount(groupIdBin) ?? 0
      memberships.rememberMemberCount(key, count)
      return count
    },

    async groupIdsOf (userId) {
      return (await groups.groupIdsOf(userId)).map(fromBin)
    },

    shareAGroup: async (userId, otherUserId) => await groups.shareAGroup(userId, otherUserId),
    peersOf: async (userId) => await groups.peersOf(userId)
  }

  fastify.decorate('groupService', service)
}, { name: 'group-service', dependencies: ['db', 'bus', 'user-service', 'chat-service', 'attachment-service', 'notification-jobs'] })
