import type { BlockedUserListResponse, BlockStateResponse, BlockUserRequest, UpdateProfileRequest, UserListResponse, UserResponse, UserSearchQuery } from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /users: profiles, @mention search, blocking. */
export function usersApi (call: Call) {
  return {
    /** Username prefix search (@mention autocomplete). */
    search: async (query: Pick<UserSearchQuery, 'q'> & Partial<UserSearchQuery>) => await call<UserListResponse>('GET', '/users', { query }),
    me: async () => await call<UserResponse>('GET', '/users/me'),
    updateMe: async (body: UpdateProfileRequest) => await call<UserResponse>('PATCH', '/users/me', { body }),
    /** The users you blocked, most recent first, with your reason and when. */
    blocked: async () => await call<BlockedUserListResponse>('GET', '/users/blocked'),
    get: async (userId: number) => await call<UserResponse>('GET', pathOf('/users/{id}', { id: userId })),
    /** Hides the user's messages, mentions, typing and presence from you everywhere; the reason is yours only. */
    block: async (userId: number, body: BlockUserRequest = {}) => await call<BlockStateResponse>('POST', pathOf('/users/{id}/block', { id: userId }), { body }),
    unblock: async (userId: number) => await call<BlockStateResponse>('POST', pathOf('/users/{id}/unblock', { id: userId }))
  }
}
