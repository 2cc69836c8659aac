import type {
  AddMemberRequest, ChatListQuery, ChatListResponse, CreateGroupRequest, DeleteGroupResponse, GroupResponse, LeaveGroupResponse, MemberListResponse,
  MemberResponse, RemoveMemberResponse, UpdateGroupRequest, UpdateMemberRequest
} from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /groups: the chat list, groups and direct chats, members. */
export function groupsApi (call: Call) {
  const group = (groupId: string): string => pathOf('/groups/{groupId}', { groupId })
  const member = (groupId: string, userId: number): string => pathOf('/groups/{groupId}/members/{userId}', { groupId, userId })
  return {
    create: async (body: CreateGroupRequest) => await call<GroupResponse>('POST', '/groups', { body }),
    /** The caller's chat list, most recent activity first (lastMessage, unreadCount…). */
    list: async (query: Partial<ChatListQuery> = {}) => await call<ChatListResponse>('GET', '/groups', { query }),
    /** Create-or-get the direct chat with a user. */
    openDirect: async (userId: number) => await call<GroupResponse>('POST', pathOf('/groups/direct/{userId}', { userId })),
    get: async (groupId: string) => await call<GroupResponse>('GET', group(groupId)),
    update: async (groupId: string, body: UpdateGroupRequest) => await call<GroupResponse>('PATCH', group(groupId), { body }),
    /** Deletes the group for everyone (its owner only). */
    delete: async (groupId: string) => await call<DeleteGroupResponse>('DELETE', group(groupId)),
    join: async (groupId: string) => await call<GroupResponse>('POST', `${group(groupId)}/join`),
    leave: async (groupId: string) => await call<LeaveGroupResponse>('POST', `${group(groupId)}/leave`),
    members: async (groupId: string) => await call<MemberListResponse>('GET', `${group(groupId)}/members`),
    addMember: async (groupId: string, body: AddMemberRequest) => await call<MemberResponse>('POST', `${group(groupId)}/members`, { body }),
    updateMember: async (groupId: string, userId: number, body: UpdateMemberRequest) => await call<MemberResponse>('PATCH', member(groupId, userId), { body }),
    removeMember: async (groupId: string, userId: number) => await call<RemoveMemberResponse>('DELETE', member(groupId, userId))
  }
}
