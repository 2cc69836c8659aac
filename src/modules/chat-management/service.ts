import fp from 'fastify-plugin'
import type { ChatPreferences } from '../../../schemas/chat.ts'
import type {
  ArchiveChatResponse, BulkReadStatusResponse, ClearHistoryResponse, ContactPresence, DeleteChatResponse, ReadStatusRequest,
  ReadStatusResponse, SingleUnreadCountResponse, UnreadCountsResponse, UpdateChatPreferencesRequest
} from '../../../schemas/chat-management.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { Caller } from '../membership/guard.ts'
import { clearHistory, deleteChat } from './clearing.ts'
import type { ChatManagementDeps } from './deps.ts'
import { getPreferences, setArchived, updatePreferences } from './preferences.ts'
import { setReadStatus, setReadStatusOfMany, unreadCountOfGroup, unreadCounts } from './read-status.ts'
import { chatManagementRepository } from './repository.ts'

/*
 * Chat management (DESIGN §4, seed 05 §§1–5), by file: clearing.ts (delete chat, clear
 * history), preferences.ts (archive, mute, notification level, previews, pin), read-status.ts
 * (read and unread marks, unread counts). Every action but "for everyone" changes the caller's
 * own view only, and is told to all of the caller's connections on every instance.
 */

export interface ChatManagementService {
  /** Deletes the chat for the caller: a direct chat is hidden and cleared until a newer message; a group is left. */
  deleteChat: (caller: Caller) => Promise<DeleteChatResponse>
  /** Clears history for the caller, or for every member (admins and the owner). */
  clearHistory: (caller: Caller, forEveryone: boolean) => Promise<ClearHistoryResponse>
  /** Archives or unarchives the chat for the caller. */
  setArchived: (caller: Caller, isArchived: boolean) => Promise<ArchiveChatResponse>
  /** Marks the chat read (up to a message, or all) or unread for the caller. */
  setReadStatus: (caller: Caller, request: ReadStatusRequest) => Promise<ReadStatusResponse>
  /** Marks several of the user's chats read or unread at once. */
  setReadStatusOfMany: (user: AuthUser, groupIds: string[], isRead: boolean) => Promise<BulkReadStatusResponse>
  /** The user's unread counts: total and per chat. */
  unreadCounts: (userId: number, excludeMuted: boolean) => Promise<UnreadCountsResponse>
  /** One chat's unread count. */
  unreadCountOfGroup: (userId: number, groupId: string) => Promise<SingleUnreadCountResponse>
  /** The caller's preferences of the chat. */
  getPreferences: (caller: Caller) => Promise<ChatPreferences>
  /** Changes the caller's preferences of the chat. */
  updatePreferences: (caller: Caller, request: UpdateChatPreferencesRequest) => Promise<ChatPreferences>
  /** The presence of those among `userIds` who share a group with the viewer. */
  contactsPresence: (viewerId: number, userIds: number[]) => Promise<ContactPresence[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    chatManagement: ChatManagementService
  }
}

/** The service over its dependencies. */
export function createChatManagementService (deps: ChatManagementDeps, presence: { contactsPresence: (viewerId: number, userIds: number[]) => Promise<ContactPresence[]> }): ChatManagementService {
  return {
    deleteChat: async (caller) => await deleteChat(deps, caller),
    clearHistory: async (caller, forEveryone) => await clearHistory(deps, caller, forEveryone),
    setArchived: async (caller, isArchived) => await setArchived(deps, caller, isArchived),
    setReadStatus: async (caller, request) => await setReadStatus(deps, caller, request),
    setReadStatusOfMany: async (user, groupIds, isRead) => await setReadStatusOfMany(deps, user, groupIds, isRead),
    unreadCounts: async (userId, excludeMuted) => await unreadCounts(deps, userId, excludeMuted),
    unreadCountOfGroup: async (userId, groupId) => await unreadCountOfGroup(deps, userId, groupId),
    getPreferences: async (caller) => await getPreferences(deps, caller),
    updatePreferences: async (caller, request) => await updatePreferences(deps, caller, request),
    contactsPresence: async (viewerId, userIds) => await presence.contactsPresence(viewerId, [...new Set(userIds)])
  }
}

/** Decorates the app with the chat-management service (fastify.chatManagement). */
export default fp(async function chatManagementPlugin (fastify) {
  const deps: ChatManagementDeps = {
    repo: chatManagementRepository(fastify.db),
    bus: fastify.bus,
    chat: fastify.chatService,
    groups: fastify.groupService,
    membership: fastify.membershipService,
    clock: fastify.clock
  }
  fastify.decorate('chatManagement', createChatManagementService(deps, fastify.presenceService))
}, { name: 'chat-management', dependencies: ['db', 'bus', 'chat-service', 'group-service', 'membership', 'presence-service'] })
