import type {
  DeleteMessageResponse, EditMessageRequest, GetMessagesRequest, GetMessagesResponse, MarkReadResponse, MessageResponse,
  PinMessageResponse, PinnedMessagesResponse, ReactionsResponse, SearchMessagesRequest, SearchMessagesResponse,
  SendMessageRequest, UnpinMessageResponse, UnreadCountResponse, MessageReportResponse, ReportMessageRequest,
  ArchiveChatResponse, BulkReadStatusResponse, ChatPreferences, ClearHistoryResponse, DeleteChatResponse, ReadStatusRequest,
  ReadStatusResponse, SingleUnreadCountResponse, UnreadCountsResponse, UpdateChatPreferencesRequest,
  CrossGroupSearchRequest, CrossGroupSearchResponse, ForwardMessageRequest, ForwardMessageResponse, MessageEditHistoryResponse
} from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** /groups/:groupId/chat (seed 01 §4). Prefer `client.send()` for sending: it queues and retries. */
export function chatApi (call: Call) {
  const chat = (groupId: string): string => pathOf('/groups/{groupId}/chat', { groupId })
  const message = (groupId: string, messageId: string): string => `${chat(groupId)}${pathOf('/messages/{messageId}', { messageId })}`
  return {
    /** 201 when stored; a retry with the same clientMessageId returns the original message. */
    sendMessage: async (groupId: string, body: SendMessageRequest) => await call<MessageResponse>('POST', `${chat(groupId)}/messages`, { body }),
    /** A page, newest first: `before` pages back in time, `after` forward from a message. */
    listMessages: async (groupId: string, query: GetMessagesRequest = {}) => await call<GetMessagesResponse>('GET', `${chat(groupId)}/messages`, { query }),
    getMessage: async (groupId: string, messageId: string) => await call<MessageResponse>('GET', message(groupId, messageId)),
    editMessage: async (groupId: string, messageId: string, body: EditMessageRequest) => await call<MessageResponse>('PUT', message(groupId, messageId), { body }),
    /** Reports a message to the system administrators (one open report per message). */
    report: async (groupId: string, messageId: string, body: ReportMessageRequest) => await call<MessageReportResponse>('POST', `${message(groupId, messageId)}/report`, { body }),
    deleteMessage: async (groupId: string, messageId: string) => await call<DeleteMessageResponse>('DELETE', message(groupId, messageId)),
    addReaction: async (groupId: string, messageId: string, emoji: string) => await call<ReactionsResponse>('POST', `${message(groupId, messageId)}/reactions`, { body: { emoji } }),
    removeReaction: async (groupId: string, messageId: string, emoji: string) => await call<ReactionsResponse>('DELETE', `${message(groupId, messageId)}${pathOf('/reactions/{emoji}', { emoji })}`),
    reactions: async (groupId: string, messageId: string) => await call<ReactionsResponse>('GET', `${message(groupId, messageId)}/reactions`),
    /** Everything up to and including the message is read. */
    markRead: async (groupId: string, messageId: string) => await call<MarkReadResponse>('POST', `${chat(groupId)}/read`, { body: { messageId } }),
    unreadCount: async (groupId: string) => await call<UnreadCountResponse>('GET', `${chat(groupId)}/unread`),
    pin: async (groupId: string, messageId: string, note?: string) => await call<PinMessageResponse>('POST', `${message(groupId, messageId)}/pin`, { body: note === undefined ? {} : { note } }),
    unpin: async (groupId: string, messageId: string) => await call<UnpinMessageResponse>('DELETE', `${message(groupId, messageId)}/pin`),
    pinned: async (groupId: string) => await call<PinnedMessagesResponse>('GET', `${chat(groupId)}/pinned`),
    // Chat management (seed 05 §§1–5): the caller's own view of a chat.
    /** A direct chat is hidden and cleared for you until a newer message; a group is left. */
    deleteChat: async (groupId: string) => await call<DeleteChatResponse>('DELETE', chat(groupId)),
    /** Clears the history for you, or for every member (admins and the owner). */
    clearHistory: async (groupId: string, forEveryone = false) => await call<ClearHistoryResponse>('DELETE', `${chat(groupId)}/messages`, { query: { forEveryone } }),
    archive: async (groupId: string, isArchived: boolean) => await call<ArchiveChatResponse>('PUT', `${chat(groupId)}/archive`, { body: { isArchived } }),
    /** Read (all, or up to lastReadMessageId) or unread by hand. */
    setReadStatus: async (groupId: string, body: ReadStatusRequest) => await call<ReadStatusResponse>('PUT', `${chat(groupId)}/read-status`, { body }),
    /** Marks up to 100 of your chats read or unread at once. */
    setReadStatusOfMany: async (groupIds: string[], isRead: boolean) => await call<BulkReadStatusResponse>('PUT', '/chat/read-status', { body: { groupIds, isRead } }),
    /** Your unread counts: the total and every chat with unread messages. */
    unreadCounts: async (query: { excludeMuted?: boolean } = {}) => await call<UnreadCountsResponse>('GET', '/chat/unread-count', { query }),
    unreadCountOf: async (groupId: string) => await call<SingleUnreadCountResponse>('GET', '/chat/unread-count', { query: { groupId } }),
    preferences: async (groupId: string) => await call<ChatPreferences>('GET', `${chat(groupId)}/preferences`),
    updatePreferences: async (groupId: string, body: UpdateChatPreferencesRequest) => await call<ChatPreferences>('PUT', `${chat(groupId)}/preferences`, { body }),
    /** Every word and every given filter (senderId, from, to, contentType, hasAttachments, threadRootId) must match. */
    search: async (groupId: string, query: SearchMessagesRequest) => await call<SearchMessagesResponse>('GET', `${chat(groupId)}/search`, { query }),
    /** Searches your most recently active groups at once; page on with `cursor: nextCursor`. */
    searchAll: async (query: CrossGroupSearchRequest) => await call<CrossGroupSearchResponse>('GET', '/chat/search', { query }),
    /** A copy in each target group (1–10), one result per target; a clientMessageId makes a retry safe. */
    forward: async (groupId: string, messageId: string, body: ForwardMessageRequest) => await call<ForwardMessageResponse>('POST', `${message(groupId, messageId)}/forward`, { body }),
    /** The versions edits replaced, newest first. */
    editHistory: async (groupId: string, messageId: string) => await call<MessageEditHistoryResponse>('GET', `${message(groupId, messageId)}/history`)
  }
}
