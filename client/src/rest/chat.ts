import type {
  DeleteMessageResponse, EditMessageRequest, GetMessagesRequest, GetMessagesResponse, MarkReadResponse, MessageResponse,
  PinMessageResponse, PinnedMessagesResponse, ReactionsResponse, SearchMessagesRequest, SearchMessagesResponse,
  SendMessageRequest, UnpinMessageResponse, UnreadCountResponse, MessageReportResponse, ReportMessageRequest,
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
