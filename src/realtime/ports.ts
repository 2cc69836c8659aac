import type { FastifyInstance } from 'fastify'
import type { AccessTokenPayload, AuthUser } from '../plugins/auth.ts'
import type { Membership } from '../modules/membership/guard.ts'
import type { ChatService } from '../modules/chat/service.ts'
import type { NotificationService } from '../modules/notifications/service.ts'
import type { PresenceService } from '../modules/presence/service.ts'
import type { UserService } from '../modules/users/service.ts'
import { reactionsSeenBy, reactorsOf } from '../modules/chat/reaction-view.ts'
import { consumeWsTicket, type WsTicketHolder } from '../modules/auth/tickets.ts'
import { tickBatch } from '../lib/tick-batch.ts'
import type { ReactionViews } from './reaction-frames.ts'

/**
 * Everything the gateway asks of the areas and of auth, gathered once at registration: the
 * only place the transport names a service. Each port is the one function the gateway calls,
 * so what the gateway depends on reads here, not inside function bodies.
 */
export interface GatewayPorts {
  // auth: credentials of the upgrade, of the `auth` frame and of a ticket
  verifyAccessToken: (token: string) => Promise<AuthUser>
  /** A ticket's holder (null for an unknown or spent ticket); the ticket is spent. */
  consumeTicket: (ticket: string) => Promise<WsTicketHolder | null>
  /** The user of claims whose session must still be live. */
  resumeSession: (claims: AccessTokenPayload, expiresAt: number) => Promise<AuthUser>
  sessionEndedRecently: (sessionId: string) => boolean
  // membership: of a joining or commanding user
  membershipOf: (groupId: string, userId: number) => Promise<Membership | null>
  // chat: what a join replays, gap fills, delivered watermarks, chat:sync
  replaySince: ChatService['replaySince']
  messageEventsBetween: ChatService['messageEventsBetween']
  markDeliveredMany: ChatService['markDeliveredMany']
  syncState: ChatService['syncState']
  /** `hasReacted` relative to each receiver of chat:reactions_updated. */
  reactions: ReactionViews
  // notifications, users, presence: the rest of chat:sync and of a connection's life
  unreadNotifications: NotificationService['unreadCount']
  blockedIdsOf: UserService['blockedIdsOf']
  connectionOpened: PresenceService['connectionOpened']
  connectionClosed: PresenceService['connectionClosed']
}

/** The plugins the ports come from: the gateway plugin's `dependencies` besides its own infrastructure. */
export const PORT_PLUGINS = ['auth', 'chat-service', 'membership', 'presence-service', 'user-service', 'notification-service'] as const

/**
 * Reads the ports from the registered areas (each listed in PORT_PLUGINS). What admission reads
 * per user (the block list, the unread notifications) is one query for every connection
 * admitted in the same turn (issue 16.3), not one per connection.
 */
export function gatewayPorts (fastify: FastifyInstance): GatewayPorts {
  const { chatService: chat, membershipService: membership, presenceService: presence, userService: users, notificationService: notifications, store } = fastify
  return {
    verifyAccessToken: fastify.verifyAccessToken,
    consumeTicket: async (ticket) => await consumeWsTicket(store, ticket),
    resumeSession: fastify.resumeSession,
    sessionEndedRecently: fastify.sessionEndedRecently,
    membershipOf: membership.getMembership,
    replaySince: chat.replaySince,
    messageEventsBetween: chat.messageEventsBetween,
    markDeliveredMany: chat.markDeliveredMany,
    syncState: chat.syncState,
    reactions: { seenBy: reactionsSeenBy, reactorsOf },
    unreadNotifications: tickBatch(notifications.unreadCounts, 0),
    blockedIdsOf: tickBatch(users.blockedIdsOfMany, []),
    connectionOpened: presence.connectionOpened,
    connectionClosed: presence.connectionClosed
  }
}
