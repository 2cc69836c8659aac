import fp from 'fastify-plugin'
import { BLOCK_REASON_MAX_LENGTH, type BlockedUser, type PublicUser, type UpdateProfileRequest, type UserProfile } from '../../../schemas/users.ts'
import { AppError, notFound } from '../../lib/app-error.ts'
import { createUserRepository, type BlockedUserRow, type ProfileChanges, type PublicUserRow, type UserProfileRow } from './repository.ts'

/*
 * Another user is shown as a UserProfile (no email); a user's own PublicUser, with the email,
 * only to themselves (DESIGN §4).
 */
export interface UserService {
  /** The public profile of the user with this id; NOT_FOUND if there is none. */
  getUser: (id: number) => Promise<UserProfile>
  /** The caller's own user, with their email. */
  getOwnUser: (id: number) => Promise<PublicUser>
  /** Changes the caller's display name and avatar; fields left out stay, null clears. */
  updateProfile: (userId: number, changes: UpdateProfileRequest) => Promise<PublicUser>
  /** Users whose username starts with `prefix` (case-insensitive), for @mention autocomplete. */
  searchByUsername: (prefix: string, limit: number) => Promise<UserProfile[]>
  /**
   * `blockerId` blocks `blockedId`, with an optional reason only the blocker sees; idempotent.
   * Every instance hears of it (a `blocks_changed` notice), so the blocker's sockets hide the
   * blocked user's events at once.
   */
  block: (blockerId: number, blockedId: number, reason?: string) => Promise<void>
  /** Lifts a block; idempotent. */
  unblock: (blockerId: number, blockedId: number) => Promise<void>
  /** The users the caller has blocked, most recent first, with their reasons. */
  listBlocked: (blockerId: number) => Promise<BlockedUser[]>
  /** The ids of the users `blockerId` has blocked (the gateway's per-connection filter). */
  blockedIdsOf: (blockerId: number) => Promise<number[]>
  /** blockedIdsOf of several users in one query (connections admitted together). */
  blockedIdsOfMany: (blockerIds: number[]) => Promise<Map<number, number[]>>
  /** True when `blockerId` has blocked `blockedId`. */
  isBlocked: (blockerId: number, blockedId: number) => Promise<boolean>
  /** True when either user has blocked the other. */
  eitherBlocked: (a: number, b: number) => Promise<boolean>
  /** The ids among `userIds` that are not an existing user. */
  missingUserIds: (userIds: readonly number[]) => Promise<number[]>
  /** The users among `candidateIds` who have blocked `userId`. */
  blockersOf: (userId: number, candidateIds: readonly number[]) => Promise<number[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    userService: UserService
  }
}

/** A users row as the user themselves sees it: with the email. */
export function toPublicUser (row: PublicUserRow): PublicUser {
  return { id: row.id, username: row.username, email: row.email, displayName: row.display_name, avatarUrl: row.avatar_url }
}

/** A users row as anyone else sees it. */
export function toUserProfile (row: UserProfileRow): UserProfile {
  return { id: row.id, username: row.username, displayName: row.display_name, avatarUrl: row.avatar_url }
}

function toBlockedUser (row: BlockedUserRow): BlockedUser {
  return { ...toUserProfile(row), reason: row.reason, blockedAt: row.created_at.toISOString() }
}

export default fp(async function userServicePlugin (fastify) {
  const users = createUserRepository(fastify.db)

  async function existingUser (id: number): Promise<UserProfileRow> {
    const row = await users.findById(id)
    if (row === null) throw notFound('User')
    return row
  }

  async function ownUser (id: number): Promise<PublicUser> {
    const row = await users.findOwnById(id)
    if (row === null) throw notFound('User')
    return toPublicUser(row)
  }

  function refuseSelf (blockerId: number, blockedId: number): void {
    if (blockerId === blockedId) {
      throw new AppError('VALIDATION_ERROR', 'You cannot block or unblock yourself', undefined, [{ field: 'id', message: 'id must be another user' }])
    }
  }

  const service: UserService = {
    async getUser (id) {
      return toUserProfile(await existingUser(id))
    },

    getOwnUser: ownUser,

    async updateProfile (userId, changes) {
      const update: ProfileChanges = {}
      if (changes.displayName !== undefined) update.display_name = changes.displayName === null ? null : changes.displayName.trim()
      if (changes.avatarUrl !== undefined) update.avatar_url = changes.avatarUrl
      if (Object.keys(update).length > 0) await users.updateProfile(userId, update)
      return await ownUser(userId)
    },

    async searchByUsername (prefix, limit) {
      return (await users.searchByUsernamePrefix(prefix, limit)).map(toUserProfile)
    },

    async block (blockerId, blockedId, reason) {
      refuseSelf(blockerId, blockedId)
      await existingUser(blockedId)
      const note = reason === undefined ? null : reason.trim().slice(0, BLOCK_REASON_MAX_LENGTH)
      await users.block(blockerId, blockedId, note === '' ? null : note)
      fastify.bus.notify({ type: 'blocks_changed', userId: blockerId, blockedUserId: blockedId, blocked: true })
    },

    async unblock (blockerId, blockedId) {
      refuseSelf(blockerId, blockedId)
      await existingUser(blockedId)
      await users.unblock(blockerId, blockedId)
      fastify.bus.notify({ type: 'blocks_changed', userId: blockerId, blockedUserId: blockedId, blocked: false })
    },

    async listBlocked (blockerId) {
      return (await users.blockedBy(blockerId)).map(toBlockedUser)
    },

    blockedIdsOf: async (blockerId) => await users.blockedIdsOf(blockerId),
    blockedIdsOfMany: async (blockerIds) => await users.blockedIdsOfMany(blockerIds),

    isBlocked: async (blockerId, blockedId) => await users.isBlocked(blockerId, blockedId),
    eitherBlocked: async (a, b) => await users.eitherBlocked(a, b),

    async missingUserIds (userIds) {
      const existing = new Set(await users.existingIds(userIds))
      return userIds.filter((id) => !existing.has(id))
    },

    blockersOf: async (userId, candidateIds) => await users.blockersOf(userId, candidateIds)
  }

  fastify.decorate('userService', service)
}, { name: 'user-service', dependencies: ['db', 'bus'] })
