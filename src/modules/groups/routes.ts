import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, GroupIdParams, Ref } from '../../../schemas/common.ts'
import {
  AddMemberRequest, ChatListQuery, ChatListResponse, CreateGroupRequest, DeleteGroupResponse, DirectChatParams, GroupMemberParams, GroupResponse,
  LeaveGroupResponse, MemberListResponse, MemberResponse, RemoveMemberResponse, UpdateGroupRequest, UpdateMemberRequest
} from '../../../schemas/groups.ts'
import { ok } from '../../lib/envelope.ts'
import { callerOf, requireMembership } from '../membership/guard.ts'

const Failure = Ref(ErrorResponse)

/**
 * /groups: creating groups and direct chats, the caller's chat list, and group and member
 * administration. Every /groups/:groupId route but join runs the one membership guard.
 */
const groupRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const groups = fastify.groupService
  // The chat list composes groups and chat: its own module (chat-list/), served here under /groups.
  const chatList = fastify.chatListService

  fastify.post('/', {
    schema: {
      tags: ['groups'],
      summary: 'Create a group; the caller becomes its owner',
      body: Ref(CreateGroupRequest),
      response: { 201: Envelope(Ref(GroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request, reply) => {
    const group = await groups.createGroup(request.user.id, request.body)
    return await reply.code(201).send(ok({ group }))
  })

  fastify.get('/', {
    schema: {
      tags: ['groups'],
      summary: 'The caller\'s chat list, most recent activity first',
      querystring: ChatListQuery,
      response: { 200: Envelope(Ref(ChatListResponse)), 400: Failure, 401: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok(await chatList.chatList(request.user.id, request.query))
  })

  fastify.post('/direct/:userId', {
    schema: {
      tags: ['groups'],
      summary: 'Open the direct chat with a user: 201 when created, 200 when it existed',
      params: DirectChatParams,
      response: { 200: Envelope(Ref(GroupResponse)), 201: Envelope(Ref(GroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request, reply) => {
    const { group, created } = await groups.openDirectChat(request.user.id, request.params.userId)
    return await reply.code(created ? 201 : 200).send(ok({ group }))
  })

  fastify.get('/:groupId', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'A group the caller is a member of',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(GroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ group: await groups.getGroup(callerOf(request)) })
  })

  fastify.patch('/:groupId', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Change name, description, avatar or maxMembers (admin or owner)',
      params: GroupIdParams,
      body: Ref(UpdateGroupRequest),
      response: { 200: Envelope(Ref(GroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ group: await groups.updateGroup(callerOf(request), request.body) })
  })

  fastify.delete('/:groupId', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Delete the group for everyone (owner only): its messages and keys go, every member gets chat:group_deleted',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(DeleteGroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    await groups.deleteGroup(callerOf(request))
    return ok({ deleted: true as const, groupId: request.params.groupId })
  })

  fastify.post('/:groupId/join', {
    schema: {
      tags: ['groups'],
      summary: 'Join a public group (a member already in it gets the group)',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(GroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ group: await groups.joinGroup(request.params.groupId, request.user.id) })
  })

  fastify.post('/:groupId/leave', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Leave the group; an owner hands ownership on, the last member deletes it',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(LeaveGroupResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    await groups.leaveGroup(request.params.groupId, request.user.id)
    return ok({ left: true as const, groupId: request.params.groupId })
  })

  fastify.get('/:groupId/members', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'The group\'s members in joining order',
      params: GroupIdParams,
      response: { 200: Envelope(Ref(MemberListResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ members: await groups.listMembers(callerOf(request)) })
  })

  fastify.post('/:groupId/members', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Add a user to the group (admin or owner; admins only by the owner)',
      params: GroupIdParams,
      body: Ref(AddMemberRequest),
      response: { 201: Envelope(Ref(MemberResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 409: Failure, 429: Failure }
    }
  }, async (request, reply) => {
    const member = await groups.addMember(callerOf(request), request.body)
    return await reply.code(201).send(ok({ member }))
  })

  fastify.patch('/:groupId/members/:userId', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Change a member\'s role; role "owner" transfers ownership',
      params: GroupMemberParams,
      body: Ref(UpdateMemberRequest),
      response: { 200: Envelope(Ref(MemberResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    return ok({ member: await groups.changeRole(callerOf(request), request.params.userId, request.body.role) })
  })

  fastify.delete('/:groupId/members/:userId', {
    preHandler: requireMembership,
    schema: {
      tags: ['groups'],
      summary: 'Remove a member; removing oneself is leaving',
      params: GroupMemberParams,
      response: { 200: Envelope(Ref(RemoveMemberResponse)), 400: Failure, 401: Failure, 403: Failure, 404: Failure, 429: Failure }
    }
  }, async (request) => {
    const { userId } = request.params
    await groups.removeMember(callerOf(request), userId)
    return ok({ removed: true as const, userId })
  })
}

export default groupRoutes
