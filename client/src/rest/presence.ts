import type { ContactPresenceResponse, GroupPresenceResponse, PresenceUpdateResult, TypingStatus, TypingUsersResponse, UpdatePresenceRequest } from '@parley/types'
import { pathOf, type Call } from '../http.ts'

/** Typing and presence over HTTP (seed 01 §4.5–4.6); `client.typing()` sends them on the socket instead. */
export function presenceApi (call: Call) {
  const chat = (groupId: string): string => pathOf('/groups/{groupId}/chat', { groupId })
  return {
    setTyping: async (groupId: string, isTyping: boolean) => await call<TypingStatus>('POST', `${chat(groupId)}/typing`, { body: { isTyping } }),
    typingUsers: async (groupId: string) => await call<TypingUsersResponse>('GET', `${chat(groupId)}/typing`),
    updatePresence: async (groupId: string, body: UpdatePresenceRequest) => await call<PresenceUpdateResult>('POST', `${chat(groupId)}/presence`, { body }),
    presence: async (groupId: string) => await call<GroupPresenceResponse>('GET', `${chat(groupId)}/presence`),
    /** Who of these (up to 100) is online; only people you share a group with are answered. */
    contacts: async (userIds: number[]) => await call<ContactPresenceResponse>('GET', '/presence', { query: { userIds: userIds.join(',') } })
  }
}
