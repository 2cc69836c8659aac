import type { Clock } from '../../lib/clock.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { ChatService } from '../chat/service.ts'
import type { GroupService } from '../groups/service.ts'
import type { MembershipService } from '../membership/service.ts'
import type { ChatManagementRepository } from './repository.ts'

/** What the chat-management functions work with, handed over once when the service is assembled. */
export interface ChatManagementDeps {
  repo: ChatManagementRepository
  bus: Bus
  chat: Pick<ChatService, 'markRead' | 'unreadCount'>
  /** Deleting a group chat for oneself is leaving it. */
  groups: Pick<GroupService, 'leaveGroup'>
  /** The caller's membership of each group a many-chat change names. */
  membership: Pick<MembershipService, 'getMembership'>
  /** "Now" for mutes: a mute ends by itself when this passes its time. */
  clock: Clock
}
