import { Type, type Static } from '@sinclair/typebox'
import { Ref, uuid, userId, isoDateTime } from './common.ts'
import { NullableAvatarUrl, NullableString, UserProfile } from './users.ts'
import { MESSAGE_CONTENT_TYPES } from './chat.ts'

/*
 * Groups and members (DESIGN §4 "groups"; seeds 02, 03, 05). Users have numeric ids, groups
 * UUIDs. Every response shape here is named by its $id in OpenAPI.
 */

const GroupIdString = uuid()
const UserIdInt = userId()
const IsoTime = isoDateTime()

export const GroupType = Type.Union([Type.Literal('direct'), Type.Literal('group'), Type.Literal('public'), Type.Literal('broadcast')])
export type GroupType = Static<typeof GroupType>

/** owner > admin > member. */
export const GroupRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')])
export type GroupRole = Static<typeof GroupRole>

/** A group as its members see it. */
export const Group = Type.Object({
  id: GroupIdString,
  name: Type.String({ description: 'Empty for direct chats: clients show the other user' }),
  description: Type.Union([Type.String(), Type.Null()]),
  type: GroupType,
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.Union([UserIdInt, Type.Null()], { description: 'Null once the creator\'s account is gone' }),
  memberCount: Type.Integer({ minimum: 0 }),
  myRole: GroupRole,
  /** An addition to the brief: the other user of a direct chat, so a chat list can show them. */
  peerUserId: Type.Union([UserIdInt, Type.Null()], { description: 'The other user of a direct chat; null for other types' }),
  /** An addition: how many members the group may hold (its own cap, or the server's). */
  maxMembers: Type.Integer({ minimum: 1, description: 'The most members this group holds: its own cap, else the server\'s' }),
  createdAt: IsoTime,
  updatedAt: IsoTime
}, { $id: 'Group' })
export type Group = Static<typeof Group>

/** Seed 01's MessageContentType. */
const MessageContentTypeName = Type.Union(MESSAGE_CONTENT_TYPES.map((type) => Type.Literal(type)))

/** The newest message of a chat, as a chat list previews it. */
export const MessagePreview = Type.Object({
  id: uuid(),
  senderUserId: UserIdInt,
  senderUsername: Type.Union([Type.String(), Type.Null()]),
  contentType: MessageContentTypeName,
  preview: Type.Union([Type.String(), Type.Null()], { description: 'A short plain-text excerpt; null when the message has no text or previews are off' }),
  createdAt: IsoTime,
  seq: Type.Integer({ minimum: 1 })
}, { $id: 'MessagePreview' })
export type MessagePreview = Static<typeof MessagePreview>

/** One row of the caller's chat list: the group plus the caller's own state in it. */
export const ChatListItem = Type.Composite([Group, Type.Object({
  lastMessage: Type.Union([Ref(MessagePreview), Type.Null()]),
  unreadCount: Type.Integer({ minimum: 0 }),
  archived: Type.Boolean(),
  pinned: Type.Boolean(),
  mutedUntil: Type.Union([IsoTime, Type.Null()])
})], { $id: 'ChatListItem' })
export type ChatListItem = Static<typeof ChatListItem>

export const ChatListResponse = Type.Object({
  groups: Type.Array(Ref(ChatListItem)),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= for the next page; null on the last page' }),
  hasMore: Type.Boolean()
}, { $id: 'ChatListResponse' })
export type ChatListResponse = Static<typeof ChatListResponse>

export const ChatListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Opaque: the nextCursor of the previous page' })),
  archived: Type.Boolean({ default: false, description: 'true lists only archived chats, false only the others' })
})
export type ChatListQuery = Static<typeof ChatListQuery>

const GroupName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', description: 'Trimmed before it is stored' })
const NullableDescription = NullableString({ maxLength: 1000 })
/** A group's own member cap; the server refuses one above its MAX_GROUP_MEMBERS (400). */
const MaxMembers = Type.Integer({ minimum: 2, maximum: 100000, description: 'A member cap for this group, at most the server\'s MAX_GROUP_MEMBERS' })

export const CreateGroupRequest = Type.Object({
  name: GroupName,
  type: Type.Optional(Type.Union([Type.Literal('group'), Type.Literal('public'), Type.Literal('broadcast')], { default: 'group' })),
  description: Type.Optional(NullableDescription),
  avatarUrl: Type.Optional(NullableAvatarUrl),
  memberIds: Type.Optional(Type.Array(UserIdInt, { maxItems: 100, description: 'Users who join as members; duplicates and the creator are ignored' })),
  maxMembers: Type.Optional(MaxMembers)
}, { $id: 'CreateGroupRequest', additionalProperties: false })
export type CreateGroupRequest = Static<typeof CreateGroupRequest>

/** PATCH /groups/:groupId: only the given fields change; null clears description or avatar. */
export const UpdateGroupRequest = Type.Object({
  name: Type.Optional(GroupName),
  description: Type.Optional(NullableDescription),
  avatarUrl: Type.Optional(NullableAvatarUrl),
  maxMembers: Type.Optional(Type.Union([MaxMembers, Type.Null()], { description: 'null: the server\'s cap; never below the current member count' }))
}, { $id: 'UpdateGroupRequest', additionalProperties: false })
export type UpdateGroupRequest = Static<typeof UpdateGroupRequest>

export const GroupResponse = Type.Object({ group: Ref(Group) }, { $id: 'GroupResponse' })
export type GroupResponse = Static<typeof GroupResponse>

export const DeleteGroupResponse = Type.Object({
  deleted: Type.Literal(true),
  groupId: GroupIdString
}, { $id: 'DeleteGroupResponse' })
export type DeleteGroupResponse = Static<typeof DeleteGroupResponse>

export const LeaveGroupResponse = Type.Object({
  left: Type.Literal(true),
  groupId: GroupIdString
}, { $id: 'LeaveGroupResponse' })
export type LeaveGroupResponse = Static<typeof LeaveGroupResponse>

export const GroupMember = Type.Object({
  userId: UserIdInt,
  role: GroupRole,
  joinedAt: IsoTime,
  user: Ref(UserProfile)
}, { $id: 'GroupMember' })
export type GroupMember = Static<typeof GroupMember>

export const MemberResponse = Type.Object({ member: Ref(GroupMember) }, { $id: 'MemberResponse' })
export type MemberResponse = Static<typeof MemberResponse>

export const MemberListResponse = Type.Object({ members: Type.Array(Ref(GroupMember)) }, { $id: 'MemberListResponse' })
export type MemberListResponse = Static<typeof MemberListResponse>

export const AddMemberRequest = Type.Object({
  userId: UserIdInt,
  role: Type.Optional(Type.Union([Type.Literal('member'), Type.Literal('admin')], { default: 'member' }))
}, { $id: 'AddMemberRequest', additionalProperties: false })
export type AddMemberRequest = Static<typeof AddMemberRequest>

/** role 'owner' transfers ownership (owner only); the previous owner becomes an admin. */
export const UpdateMemberRequest = Type.Object({
  role: GroupRole
}, { $id: 'UpdateMemberRequest', additionalProperties: false })
export type UpdateMemberRequest = Static<typeof UpdateMemberRequest>

export const RemoveMemberResponse = Type.Object({
  removed: Type.Literal(true),
  userId: UserIdInt
}, { $id: 'RemoveMemberResponse' })
export type RemoveMemberResponse = Static<typeof RemoveMemberResponse>

export const GroupMemberParams = Type.Object({
  groupId: GroupIdString,
  userId: UserIdInt
})
export type GroupMemberParams = Static<typeof GroupMemberParams>

export const DirectChatParams = Type.Object({ userId: UserIdInt })
export type DirectChatParams = Static<typeof DirectChatParams>

export const groupSchemas = [
  Group, MessagePreview, ChatListItem, ChatListResponse, CreateGroupRequest, UpdateGroupRequest, GroupResponse,
  DeleteGroupResponse, LeaveGroupResponse, GroupMember, MemberResponse, MemberListResponse, AddMemberRequest, UpdateMemberRequest,
  RemoveMemberResponse
]
