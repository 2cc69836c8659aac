import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type {
  ChatMessage,
  CrossGroupSearchRequest,
  CrossGroupSearchResponse,
  DeleteMessageResponse,
  EditMessageRequest,
  ForwardMessageRequest,
  ForwardMessageResponse,
  ForwardedFrom,
  GetMessagesRequest,
  GetMessagesResponse,
  MarkReadResponse,
  MessageEditHistoryResponse,
  PinMessageResponse,
  PinnedMessagesResponse,
  ReactionSummary,
  SearchMessagesRequest,
  SearchMessagesResponse,
  SendMessageRequest,
  UnpinMessageResponse,
  UnreadCountResponse
} from '../../../schemas/chat.ts'
import type { ChatMessageEvent } from '../../../schemas/events.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { PublishOptions } from '../../plugins/bus.ts'
import { tickBatch } from '../../lib/tick-batch.ts'
import type { Caller } from '../membership/guard.ts'
import { searchAcrossGroups } from './cross-search.ts'
import type { ChatDeps } from './deps.ts'
import { editHistory } from './edit-history.ts'
import { deleteForModeration, deleteMessage, editMessage, messageForModeration } from './edits.ts'
import { forwardMessage, type CallerIn } from './forward.ts'
import { getMessage, listMessages, messageEventsBetween, replaySince, syncState } from './history.ts'
import { markDelivered, markDeliveredMany, markRead, unreadCount } from './read.ts'
import { addReaction, listReactions, removeReaction } from './reactions.ts'
import { pinMessage, pinnedMessages, unpinMessage } from './pins.ts'
import { chatRepository } from './repository.ts'
import { searchMessages } from './search.ts'
import { sendMessage } from './send.ts'
import { chatSummaries } from './summaries.ts'

/*
 * The chat area (DESIGN §3, seed 01 §4.2), by file: send.ts (the send path) with mentions.ts
 * and forward.ts; history.ts (pages, single messages, replay, gap fills, chat:sync);
 * edits.ts (edit, delete, moderation) and edit-history.ts; reactions.ts; pins.ts; read.ts
 * (read and delivered watermarks); search.ts and cross-search.ts; summaries.ts (the chat
 * list's last message and unread count). They share present.ts (find, decrypt and show stored
 * messages) and checks.ts, and work over one ChatDeps (deps.ts) built here.
 */

/** A group's chat state for chat:sync right after a WebSocket connects. */
export interface GroupSyncState {
  groupId: string
  latestSeq: number
  unreadCount: number
  lastReadMessageId: string | null
}

/** The newest message of a chat as the chat list previews it. */
export interface LastMessagePreview {
  id: string
  senderUserId: number
  senderUsername: string
  contentType: ChatMessage['contentType']
  /** The first ~100 characters, decrypted; null when the message is deleted. */
  preview: string | null
  createdAt: string
  seq: number
}

export interface ChatSummary {
  lastMessage: LastMessagePreview | null
  unreadCount: number
}

/** What only the server sets on a send: where a forwarded copy came from, and its place among its connection's sends. */
export interface SendOrigin {
  forwardedFrom?: ForwardedFrom
  /** Enqueues the commit in the turn of the connection's pipelined sends (realtime CommandContext.inTurn). */
  inTurn?: <T>(step: () => T) => Promise<T>
}

export interface ReplayResult {
  events: ChatMessageEvent[]
  latestSeq: number
  /** The caller's clear watermark of the group: messages up to it are cleared for them (0: none). */
  clearedSeq: number
  /** True when more than the limit follow sinceSeq: then no event is read or returned (the client pages over REST). */
  truncated: boolean
}

/** The chat area's operations, shared by the REST routes and the WebSocket commands. */
export interface ChatService {
  /**
   * Sends a message; a retry with the same clientMessageId returns the original message (`created: false`).
   * `published.originConnectionId`: the WebSocket connection that sent it, which gets its ack
   * instead of the chat:message (the sender's other connections get both).
   */
  sendMessage: (caller: Caller, input: SendMessageRequest, published?: PublishOptions, origin?: SendOrigin) => Promise<{ message: ChatMessage, created: boolean }>
  /**
   * Sends a copy of a message the caller is shown into each target group (`callerIn` resolves
   * the caller's membership there), each target succeeding or failing on its own.
   */
  forwardMessage: (caller: Caller, messageId: string, input: ForwardMessageRequest, callerIn: CallerIn) => Promise<ForwardMessageResponse>
  /** The previous versions of a message the caller is shown, newest first. */
  editHistory: (caller: Caller, messageId: string) => Promise<MessageEditHistoryResponse>
  /** Searches the caller's most recently active groups at once, newest first, with a cursor. */
  searchAcrossGroups: (user: AuthUser, query: CrossGroupSearchRequest) => Promise<CrossGroupSearchResponse>
  /** A page of history, newest first (see GetMessagesResponse for the cursors); senders the caller blocked are left out. */
  listMessages: (caller: Caller, query: GetMessagesRequest) => Promise<GetMessagesResponse>
  /** One message with its reactions and readers. */
  getMessage: (caller: Caller, messageId: string) => Promise<ChatMessage>
  /** Edits the caller's own message, keeping the previous version sealed in the edit history. */
  editMessage: (caller: Caller, messageId: string, input: EditMessageRequest) => Promise<ChatMessage>
  /** Soft-deletes a message (its sender, or a group admin or the owner); idempotent. */
  deleteMessage: (caller: Caller, messageId: string) => Promise<DeleteMessageResponse>
  /** A message as a system administrator reviewing a report sees it, member or not; null when it does not exist. */
  messageForModeration: (groupId: string, messageId: string) => Promise<ChatMessage | null>
  /** Soft-deletes a message on a system administrator's decision, as deleteMessage does; idempotent. */
  deleteForModeration: (groupId: string, messageId: string, moderatorId: number) => Promise<DeleteMessageResponse>
  /** Adds the caller's reaction (a no-op when they already have it). */
  addReaction: (caller: Caller, messageId: string, emoji: string) => Promise<ReactionSummary[]>
  /** Removes the caller's reaction (a no-op when they do not have it). */
  removeReaction: (caller: Caller, messageId: string, emoji: string) => Promise<ReactionSummary[]>
  /** A message's reactions, relative to the caller. */
  listReactions: (caller: Caller, messageId: string) => Promise<ReactionSummary[]>
  /** Moves the caller's read watermark up to the message; never back. */
  markRead: (caller: Caller, messageId: string) => Promise<MarkReadResponse>
  /** Messages from others after the caller's read and clear watermarks, not deleted. */
  unreadCount: (caller: Caller) => Promise<UnreadCountResponse>
  /** Pins a message (admins and the owner); pinning again replaces the note. */
  pinMessage: (caller: Caller, messageId: string, note?: string) => Promise<PinMessageResponse>
  /** Unpins a message (admins and the owner); idempotent. */
  unpinMessage: (caller: Caller, messageId: string) => Promise<UnpinMessageResponse>
  /** The group's pinned messages in pin order, with the pin in their metadata. */
  pinnedMessages: (caller: Caller) => Promise<PinnedMessagesResponse>
  /** Searches the group's live messages through the blind index; every query word and filter must match, blocked senders left out. */
  searchMessages: (caller: Caller, query: SearchMessagesRequest) => Promise<SearchMessagesResponse>
  /** chat:message events after `sinceSeq` (and after the caller's clear watermark) up to the group's latest seq, ascending; none when more than `limit` follow. */
  replaySince: (caller: Caller, sinceSeq: number, limit: number) => Promise<ReplayResult>
  /**
   * chat:message events with fromSeq < seq ≤ toSeq, ascending (at most 1,000), for filling gaps;
   * as `readerId` is shown them when given (a reader who cleared history: see eventsFor).
   */
  messageEventsBetween: (groupId: string, fromSeqExclusive: number, toSeqInclusive: number, readerId?: number) => Promise<ChatMessageEvent[]>
  /** Per group of the user: newest seq, unread count and the last read message. */
  syncState: (userId: number) => Promise<GroupSyncState[]>
  /** Moves the user's delivered watermark up to `seq`; never back. */
  markDelivered: (userId: number, groupId: string, seq: number) => Promise<void>
  /** Moves several users' delivered watermarks of one group up to `seq` in one write; never back. */
  markDeliveredMany: (groupId: string, userIds: readonly number[], seq: number) => Promise<void>
  /** The chat-list data of the user's groups: newest visible message and unread count. */
  chatSummaries: (userId: number, groupIds: string[]) => Promise<Map<string, ChatSummary>>
}

declare module 'fastify' {
  interface FastifyInstance {
    chatService: ChatService
  }
}

/** The service over its dependencies: each operation is the function of the same name in its job's file. */
export function createChatService (deps: ChatDeps): ChatService {
  // Not async wrappers: each function is async itself, so its promise is returned as it is.
  return {
    sendMessage: (caller, input, published, origin) => sendMessage(deps, caller, input, published, origin),
    forwardMessage: (caller, messageId, input, callerIn) => forwardMessage(deps, caller, messageId, input, callerIn),
    editHistory: (caller, messageId) => editHistory(deps, caller, messageId),
    searchAcrossGroups: (user, query) => searchAcrossGroups(deps, user, query),
    listMessages: (caller, query) => listMessages(deps, caller, query),
    getMessage: (caller, messageId) => getMessage(deps, caller, messageId),
    editMessage: (caller, messageId, input) => editMessage(deps, caller, messageId, input),
    deleteMessage: (caller, messageId) => deleteMessage(deps, caller, messageId),
    messageForModeration: (groupId, messageId) => messageForModeration(deps, groupId, messageId),
    deleteForModeration: (groupId, messageId, moderatorId) => deleteForModeration(deps, groupId, messageId, moderatorId),
    addReaction: (caller, messageId, emoji) => addReaction(deps, caller, messageId, emoji),
    removeReaction: (caller, messageId, emoji) => removeReaction(deps, caller, messageId, emoji),
    listReactions: (caller, messageId) => listReactions(deps, caller, messageId),
    markRead: (caller, messageId) => markRead(deps, caller, messageId),
    unreadCount: (caller) => unreadCount(deps, caller),
    pinMessage: (caller, messageId, note) => pinMessage(deps, caller, messageId, note),
    unpinMessage: (caller, messageId) => unpinMessage(deps, caller, messageId),
    pinnedMessages: (caller) => pinnedMessages(deps, caller),
    searchMessages: (caller, query) => searchMessages(deps, caller, query),
    replaySince: (caller, sinceSeq, limit) => replaySince(deps, caller, sinceSeq, limit),
    messageEventsBetween: (groupId, fromSeqExclusive, toSeqInclusive, readerId) => messageEventsBetween(deps, groupId, fromSeqExclusive, toSeqInclusive, readerId),
    syncState: (userId) => syncState(deps, userId),
    markDelivered: (userId, groupId, seq) => markDelivered(deps, userId, groupId, seq),
    markDeliveredMany: (groupId, userIds, seq) => markDeliveredMany(deps, groupId, userIds, seq),
    chatSummaries: (userId, groupIds) => chatSummaries(deps, userId, groupIds)
  }
}

/** What chat works with, taken from the app once at registration (the plugin's dependencies provide each). */
export function chatDepsOf (fastify: FastifyInstance): ChatDeps {
  const repo = chatRepository(fastify.db)
  return {
    db: fastify.db,
    repo,
    keyring: fastify.keyring,
    bus: fastify.bus,
    sendBatcher: fastify.sendBatcher,
    config: { broadcastContent: fastify.config.ws.broadcastContent },
    notificationJobs: fastify.notificationJobs,
    spamCheck: fastify.spamCheck,
    attachments: fastify.attachmentService,
    takeRateLimit: fastify.takeRateLimit,
    log: fastify.log,
    // chat:sync of connections admitted in the same turn: one query for all of them.
    syncRowsOf: tickBatch(async (userIds: number[]) => await repo.syncRowsOf(userIds), [])
  }
}

/** Decorates the app with the chat service (fastify.chatService). */
export default fp(async function chatServicePlugin (fastify) {
  fastify.decorate('chatService', createChatService(chatDepsOf(fastify)))
}, { name: 'chat-service', dependencies: ['db', 'bus', 'crypto', 'metrics', 'send-batcher', 'spam-check', 'rate-limit', 'attachment-service', 'notification-jobs'] })
