import type { BlockStateResponse, UpdateProfileRequest, UserListResponse, UserResponse, UserSearchQuery } from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /users: profiles, @mention search, blocking. */
export function usersApi (call: Call) {
  return {
    /** Username prefix search (@mention autocomplete). */
    search: async (query: Pick<UserSearchQuery, 'q'> & Partial<UserSearchQuery>) => await call<UserListResponse>('GET', '/users', { query }),
    me: async () => await call<UserResponse>('GET', '/users/me'),
    updateMe: async (body: UpdateProfileRequest) => await call<UserResponse>('PATCH', '/users/me', { body }),
    blocked: async () => await call<UserListResponse>('GET', '/users/blocked'),
    get: async (userId: number) => await call<UserResponse>('GET', pathOf('/users/{id}', { id: userId })),
    block: async (userId: number) => await call<BlockStateResponse>('POST', pathOf('/users/{id}/block', { id: userId })),
    unblock: async (userId: number) => await call<BlockStateResponse>('POST', pathOf('/users/{id}/unblock', { id: userId }))
  }
}
