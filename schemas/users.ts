import { Type, type Static, type StringOptions } from '@sinclair/typebox'
import { Ref, userId, isoDateTime } from './common.ts'

/**
 * Another user as every API shows them (DESIGN §4: profiles, search, member lists, blocks):
 * never their email, password hash or other private fields.
 */
export const UserProfile = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  username: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  avatarUrl: Type.Union([Type.String(), Type.Null()])
}, { $id: 'UserProfile' })
export type UserProfile = Static<typeof UserProfile>

/**
 * The caller's own user, with their email: only in the answers of register, login, refresh,
 * `/auth/me` and `/users/me` (seed 01 §2's `user`).
 */
export const PublicUser = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  username: Type.String(),
  email: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  avatarUrl: Type.Union([Type.String(), Type.Null()])
}, { $id: 'PublicUser' })
export type PublicUser = Static<typeof PublicUser>

/**
 * A string or null as one JSON Schema type list, not a union: with the app's type coercion Ajv
 * would turn null into "" in a union's string branch (or "" into null in a null branch).
 */
export function NullableString (options: StringOptions) {
  return Type.Unsafe<string | null>({ ...options, type: ['string', 'null'] })
}

const avatarUrlOptions: StringOptions = { format: 'uri', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', minLength: 8, maxLength: 2048 }

/** An http(s) image URL, as users and groups store it (VARCHAR(2048)). */
export const AvatarUrl = Type.String(avatarUrlOptions)
export type AvatarUrl = Static<typeof AvatarUrl>

/** An avatar URL, or null to clear it. */
export const NullableAvatarUrl = NullableString(avatarUrlOptions)

/** PATCH /users/me: only the given fields change; null clears a field. */
export const UpdateProfileRequest = Type.Object({
  displayName: Type.Optional(NullableString({ minLength: 1, maxLength: 64, pattern: '\\S' })),
  avatarUrl: Type.Optional(NullableAvatarUrl)
}, { $id: 'UpdateProfileRequest', additionalProperties: false })
export type UpdateProfileRequest = Static<typeof UpdateProfileRequest>

/** GET /users?q=: username prefix search for @mention autocomplete. */
export const UserSearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 32, description: 'Username prefix, case-insensitive' }),
  limit: Type.Integer({ minimum: 1, maximum: 20, default: 10 })
})
export type UserSearchQuery = Static<typeof UserSearchQuery>

export const UserIdPathParams = Type.Object({ id: userId() })
export type UserIdPathParams = Static<typeof UserIdPathParams>

/** GET/PATCH /users/me: the caller's own user. */
export const UserResponse = Type.Object({ user: Ref(PublicUser) }, { $id: 'UserResponse' })
export type UserResponse = Static<typeof UserResponse>

/** GET /users/:id: a user's public profile (without email, even the caller's own). */
export const UserProfileResponse = Type.Object({ user: Ref(UserProfile) }, { $id: 'UserProfileResponse' })
export type UserProfileResponse = Static<typeof UserProfileResponse>

export const UserListResponse = Type.Object({ users: Type.Array(Ref(UserProfile)) }, { $id: 'UserListResponse' })
export type UserListResponse = Static<typeof UserListResponse>

/** The answer of POST /users/:id/block and /unblock: the state after the call. */
export const BlockStateResponse = Type.Object({
  blocked: Type.Boolean(),
  userId: Type.Integer({ minimum: 1 })
}, { $id: 'BlockStateResponse' })
export type BlockStateResponse = Static<typeof BlockStateResponse>

/** At most this many characters of a block's reason. */
export const BLOCK_REASON_MAX_LENGTH = 500

/** POST /users/:id/block (seed 04): an optional reason, kept for the blocker only. */
export const BlockUserRequest = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: BLOCK_REASON_MAX_LENGTH, description: 'Shown in the blocker\'s own blocked list only' }))
}, { $id: 'BlockUserRequest' })
export type BlockUserRequest = Static<typeof BlockUserRequest>

/** A user the caller blocked: their profile, with the caller's reason and when they blocked them. */
export const BlockedUser = Type.Object({
  ...UserProfile.properties,
  reason: Type.Union([Type.String(), Type.Null()]),
  blockedAt: isoDateTime()
}, { $id: 'BlockedUser' })
export type BlockedUser = Static<typeof BlockedUser>

/** GET /users/blocked: most recent first. */
export const BlockedUserListResponse = Type.Object({ users: Type.Array(Ref(BlockedUser)) }, { $id: 'BlockedUserListResponse' })
export type BlockedUserListResponse = Static<typeof BlockedUserListResponse>

export const userSchemas = [
  UserProfile, PublicUser, UpdateProfileRequest, UserResponse, UserProfileResponse, UserListResponse, BlockStateResponse,
  BlockUserRequest, BlockedUser, BlockedUserListResponse
]
