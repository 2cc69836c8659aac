import fp from 'fastify-plugin'
import type { ChatListQuery, ChatListResponse } from '../../../schemas/groups.ts'
import { createGroupRepository } from '../groups/repository.ts'
import { chatList, type ChatListDeps } from './chat-list.ts'

export interface ChatListService {
  /** A page of the user's chat list, most recent activity first. */
  chatList: (userId: number, query: ChatListQuery) => Promise<ChatListResponse>
}

declare module 'fastify' {
  interface FastifyInstance {
    chatListService: ChatListService
  }
}

/** Decorates the app with the chat list (fastify.chatListService), served by GET /groups. */
export default fp(async function chatListPlugin (fastify) {
  const deps: ChatListDeps = {
    chatListPage: createGroupRepository(fastify.db).chatListPage,
    chatSummaries: fastify.chatService.chatSummaries,
    limits: fastify.config.groups
  }
  fastify.decorate('chatListService', { chatList: async (userId, query) => await chatList(deps, userId, query) })
}, { name: 'chat-list', dependencies: ['db', 'chat-service'] })
