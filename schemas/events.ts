import { Type, type Static } from '@sinclair/typebox'

/*
 * Server → client events: what services publish on the bus and the gateway sends as
 * `{ type, payload }` frames. Seed 01 §5.5 payloads exactly, plus the DESIGN §5 additions.
 */

const GroupId = Type.String({ format: 'uuid' })
const UserIdInt = Type.Integer({ minimum: 1 })
const IsoTime = Type.String({ format: 'date-time' })

export const MemberRoleName = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')])

export const MemberJoinedEvent = Type.Object({
  type: Type.Literal('chat:member_joined'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, role: MemberRoleName, addedBy: Type.Union([UserIdInt, Type.Null()]) })
}, { $id: 'MemberJoinedEvent' })
export type MemberJoinedEvent = Static<typeof MemberJoinedEvent>

export const MemberLeftEvent = Type.Object({
  type: Type.Literal('chat:member_left'),
  payload: Type.Object({
    groupId: GroupId,
    userId: UserIdInt,
    reason: Type.Union([Type.Literal('left'), Type.Literal('removed')]),
    removedBy: Type.Union([UserIdInt, Type.Null()])
  })
}, { $id: 'MemberLeftEvent' })
export type MemberLeftEvent = Static<typeof MemberLeftEvent>

export const MemberRoleChangedEvent = Type.Object({
  type: Type.Literal('chat:member_role_changed'),
  payload: Type.Object({ groupId: GroupId, userId: UserIdInt, role: MemberRoleName, changedBy: UserIdInt })
}, { $id: 'MemberRoleChangedEvent' })
export type MemberRoleChangedEvent = Static<typeof MemberRoleChangedEvent>

export const GroupUpdatedEvent = Type.Object({
  type: Type.Literal('chat:group_updated'),
  payload: Type.Object({ groupId: GroupId, updatedBy: Type.Union([UserIdInt, Type.Null()]), updatedAt: IsoTime })
}, { $id: 'GroupUpdatedEvent' })
export type GroupUpdatedEvent = Static<typeof GroupUpdatedEvent>

export const GroupDeletedEvent = Type.Object({
  type: Type.Literal('chat:group_deleted'),
  payload: Type.Object({ groupId: GroupId })
}, { $id: 'GroupDeletedEvent' })
export type GroupDeletedEvent = Static<typeof GroupDeletedEvent>

/** Every event the bus carries. Areas add theirs here. */
export const ServerEvent = Type.Union([
  MemberJoinedEvent,
  MemberLeftEvent,
  MemberRoleChangedEvent,
  GroupUpdatedEvent,
  GroupDeletedEvent
])
export type ServerEvent = Static<typeof ServerEvent>
