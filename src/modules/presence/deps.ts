import type { FastifyBaseLogger } from 'fastify'
import type { Clock } from '../../lib/clock.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { PresenceStatus } from '../../../schemas/chat.ts'
import type { PresenceEvent } from '../../../schemas/events.ts'
import type { LocalPresence } from './local.ts'
import type { PresenceRepository } from './repository.ts'
import type { PresenceStore } from './store.ts'

/** Who is acting: the fields of the access token presence needs. */
export type PresenceUser = Pick<AuthUser, 'id' | 'username'>

export interface PresenceServiceOptions {
  /** A connection entry lives this long without a heartbeat. */
  connectionTtlMs: number
  /** How often this instance refreshes its connections' entries. */
  heartbeatMs: number
  graceMs: number
  typingTtlMs: number
  maxConnectionsPerUser: number
}

/** What the presence functions work with, handed over once when the service is assembled. */
export interface PresenceDeps {
  store: PresenceStore
  repository: PresenceRepository
  bus: Bus
  /** The groups whose members see the user's presence. */
  groupIdsOf: (userId: number) => Promise<string[]>
  clock: Clock
  log: FastifyBaseLogger
  options: PresenceServiceOptions
  local: LocalPresence
}

/** The store is best effort: a failure is logged and the caller answers from local state. */
export function storeFailed (deps: PresenceDeps, err: unknown, what: string): void {
  deps.log.warn({ err: { message: (err as Error).message } }, `${what} failed; answering from local state`)
}

/** Tells every group of the user their status. */
export async function broadcastPresence (deps: PresenceDeps, user: PresenceUser, status: PresenceStatus, lastSeenAt: Date): Promise<void> {
  const groupIds = await deps.groupIdsOf(user.id)
  for (const groupId of groupIds) {
    const event: PresenceEvent = {
      type: 'chat:presence',
      payload: { groupId, userId: user.id, username: user.username, status, lastSeenAt: lastSeenAt.toISOString() }
    }
    deps.bus.publish({ groupId }, event)
  }
}
