import fp from 'fastify-plugin'
import type { ContactPresence } from '../../../schemas/chat-management.ts'
import type { DeviceType, PresenceStatus, TypingIndicator, UserPresence } from '../../../schemas/chat.ts'
import { connectionClosed, connectionOpened, refreshConnections, type ConnectionAdmission } from './connections.ts'
import { storeFailed, type PresenceDeps, type PresenceServiceOptions, type PresenceUser } from './deps.ts'
import { LocalPresence } from './local.ts'
import { memoryPresenceStore } from './memory-store.ts'
import { presenceRepository } from './repository.ts'
import { groupPresence, onlineUserIds, updatePresence, usersPresence } from './status.ts'
import { redisPresenceStore } from './store.ts'
import { setTyping, typingUsers } from './typing.ts'

/*
 * Presence and typing (DESIGN §6), by file: store.ts (the state in Redis: key layout and
 * scripts) and memory-store.ts (the same on a single node), connections.ts (connect,
 * disconnect, the grace, offline), status.ts (status updates and reads), typing.ts, local.ts
 * (what this instance knows and owes). The store is best effort: when it fails, this instance
 * answers from what it knows locally.
 */

export type { ConnectionAdmission } from './connections.ts'
export type { PresenceServiceOptions, PresenceUser } from './deps.ts'

export interface PresenceService {
  /** Registers a WebSocket connection; refuses it when the user is at their connection limit. */
  connectionOpened: (user: PresenceUser, connectionId: string) => Promise<ConnectionAdmission>
  /** Unregisters a connection; the user goes offline after the grace unless one comes back. */
  connectionClosed: (user: PresenceUser, connectionId: string) => Promise<void>
  /** Sets the user's status (all their groups see it) and counts as a sign of life. */
  updatePresence: (user: PresenceUser, groupId: string, status: PresenceStatus, deviceType?: DeviceType) => Promise<{ groupId: string, status: PresenceStatus, deviceType?: DeviceType }>
  /** The group's members with their current status. */
  groupPresence: (groupId: string) => Promise<UserPresence[]>
  /** Starts or stops the user's typing indicator in a group; a start expires after the typing TTL. */
  setTyping: (user: PresenceUser, groupId: string, isTyping: boolean) => Promise<{ groupId: string, isTyping: boolean }>
  /** Who is typing in the group now. */
  typingUsers: (groupId: string) => Promise<TypingIndicator[]>
  /** The users among `userIds` with a live connection on any instance. */
  onlineUserIds: (userIds: number[]) => Promise<Set<number>>
  /** The presence of those among `userIds` who share a group with the viewer; the others are left out. */
  contactsPresence: (viewerId: number, userIds: number[]) => Promise<ContactPresence[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    presenceService: PresenceService
  }
}

/** The service over its dependencies, plus the close that stops its timers. */
export function createPresenceService (deps: PresenceDeps): PresenceService & { close: () => Promise<void> } {
  const heartbeat = deps.clock.setInterval(async () => {
    await deps.local.track(refreshConnections(deps)).catch((err: unknown) => { storeFailed(deps, err, 'presence heartbeat') })
  }, deps.options.heartbeatMs)
  return {
    connectionOpened: async (user, connectionId) => await connectionOpened(deps, user, connectionId),
    connectionClosed: async (user, connectionId) => { await connectionClosed(deps, user, connectionId) },
    updatePresence: async (user, groupId, status, deviceType) => await updatePresence(deps, user, groupId, status, deviceType),
    groupPresence: async (groupId) => await groupPresence(deps, groupId),
    setTyping: async (user, groupId, isTyping) => await setTyping(deps, user, groupId, isTyping),
    typingUsers: async (groupId) => await typingUsers(deps, groupId),
    onlineUserIds: async (userIds) => await onlineUserIds(deps, userIds),
    contactsPresence: async (viewerId, userIds) => await usersPresence(deps, await deps.repository.peersAmong(viewerId, userIds)),
    async close () {
      heartbeat.cancel()
      await deps.local.close()
    }
  }
}

/** The presence and typing service shared by the REST routes and the WebSocket gateway. */
export default fp<Partial<PresenceServiceOptions>>(async function presenceServicePlugin (fastify, opts) {
  const heartbeatMs = opts.heartbeatMs ?? fastify.config.ws.pingIntervalMs
  const { backend } = fastify.store
  const { groupIdsOf } = fastify.membershipService
  const service = createPresenceService({
    store: backend.kind === 'redis' ? redisPresenceStore(backend.redis) : memoryPresenceStore(backend.table),
    repository: presenceRepository(fastify.db),
    bus: fastify.bus,
    groupIdsOf,
    clock: fastify.clock,
    log: fastify.log.child({ module: 'presence' }),
    local: new LocalPresence(),
    options: {
      heartbeatMs,
      // Three missed heartbeats before another instance stops counting a connection.
      connectionTtlMs: opts.connectionTtlMs ?? Math.max(3 * heartbeatMs, 1000),
      graceMs: opts.graceMs ?? fastify.config.presence.graceMs,
      typingTtlMs: opts.typingTtlMs ?? fastify.config.presence.typingTtlMs,
      maxConnectionsPerUser: opts.maxConnectionsPerUser ?? fastify.config.ws.maxConnectionsPerUser
    }
  })
  const { close, ...presenceService } = service
  fastify.decorate('presenceService', presenceService)
  // The gateway closes its sockets in preClose, so their goodbyes are done before this runs;
  // onClose hooks run in reverse order, so this one runs before the store and the database close.
  fastify.addHook('onClose', close)
}, { name: 'presence-service', dependencies: ['db', 'store', 'bus', 'membership'] })
