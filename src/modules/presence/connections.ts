import { broadcastPresence, storeFailed, type PresenceDeps, type PresenceUser } from './deps.ts'
import type { ConnectOutcome, WentOffline } from './store.ts'

/*
 * Connections and the grace (DESIGN §6). A user is online while any connection lives on any
 * instance, and for the grace period after the last one closes (or after the last REST
 * presence update). The instance that saw the last connection close keeps a timer; when it
 * fires, the store checks that no connection came back anywhere and only then is offline
 * broadcast and users.last_seen_at persisted. If that instance dies first, reads still compute
 * the right status from `seen` + grace; only the broadcast is lost.
 */

export interface ConnectionAdmission {
  accepted: boolean
  /** The user's live connections anywhere before this one (this instance's when Redis is down). */
  openConnections: number
}

/** Registers a WebSocket connection; refuses it when the user is at their connection limit. */
export async function connectionOpened (deps: PresenceDeps, user: PresenceUser, connectionId: string): Promise<ConnectionAdmission> {
  const { local, options } = deps
  local.graceTimers.get(user.id)?.cancel()
  local.graceTimers.delete(user.id)
  // A connection of the user closing on this instance frees its slot first: a quick
  // reconnect is never refused for the very connection it replaces.
  const leaving = local.closingByUser.get(user.id)
  if (leaving !== undefined) await Promise.allSettled([...leaving])
  const before = local.connectionCount(user.id)
  const now = deps.clock.now()
  let outcome: ConnectOutcome
  try {
    outcome = await deps.store.connect(user.id, connectionId, now, options)
  } catch (err) {
    storeFailed(deps, err, 'presence connect')
    outcome = { accepted: before < options.maxConnectionsPerUser, openConnections: before, wasVisible: before > 0 }
  }
  const { accepted, openConnections } = outcome
  if (!accepted) return { accepted, openConnections }
  // Read again after the await: another connection of the user may have come or gone.
  const mine = local.connections.get(user.id) ?? new Set<string>()
  mine.add(connectionId)
  local.connections.set(user.id, mine)
  if (!outcome.wasVisible) {
    local.track(broadcastPresence(deps, user, 'online', new Date(now))).catch((err: unknown) => { deps.log.error({ err }, 'presence broadcast failed') })
  }
  return { accepted, openConnections }
}

/** Unregisters a connection; the user goes offline after the grace unless one comes back. */
export async function connectionClosed (deps: PresenceDeps, user: PresenceUser, connectionId: string): Promise<void> {
  const { local } = deps
  const mine = local.connections.get(user.id)
  if (mine === undefined || !mine.delete(connectionId)) return
  if (mine.size === 0) local.connections.delete(user.id)
  let remaining: number
  const disconnect = local.track(deps.store.disconnect(user.id, connectionId, deps.clock.now()))
  const leaving = local.closingByUser.get(user.id) ?? new Set<Promise<unknown>>()
  leaving.add(disconnect)
  local.closingByUser.set(user.id, leaving)
  try {
    remaining = await disconnect
  } catch (err) {
    storeFailed(deps, err, 'presence disconnect')
    remaining = local.connectionCount(user.id)
  } finally {
    leaving.delete(disconnect)
    if (leaving.size === 0 && local.closingByUser.get(user.id) === leaving) local.closingByUser.delete(user.id)
  }
  if (remaining === 0) scheduleOfflineCheck(deps, user)
}

/** Checks again once the grace has passed since now (replacing an earlier check of the user). */
export function scheduleOfflineCheck (deps: PresenceDeps, user: PresenceUser): void {
  const { local } = deps
  if (local.isClosed) return
  local.graceTimers.get(user.id)?.cancel()
  // A few ms past the grace so the store's `now - seen >= grace` holds on the same clock.
  const timer = deps.clock.setTimeout(async () => {
    await local.track(checkOffline(deps, user)).catch((err: unknown) => { deps.log.error({ err }, 'offline check failed') })
  }, deps.options.graceMs + 5)
  local.graceTimers.set(user.id, timer)
}

/** After the grace: broadcast offline unless the user came back anywhere. */
async function checkOffline (deps: PresenceDeps, user: PresenceUser): Promise<void> {
  deps.local.graceTimers.delete(user.id)
  if (deps.local.connectionCount(user.id) > 0) return
  const now = deps.clock.now()
  let wentOffline: WentOffline | null
  try {
    wentOffline = await deps.store.goOffline(user.id, now, deps.options.graceMs)
  } catch (err) {
    storeFailed(deps, err, 'presence offline check')
    wentOffline = { seen: now - deps.options.graceMs, announce: true }
  }
  if (wentOffline === null) return
  // Last seen when the last connection closed (or the last REST update), not when the grace ran out.
  const seenAt = new Date(wentOffline.seen)
  await deps.repository.touchLastSeen(user.id, seenAt)
  if (wentOffline.announce) await broadcastPresence(deps, user, 'offline', seenAt)
}

/** Extends this instance's connection entries in the store; run every heartbeat. */
export async function refreshConnections (deps: PresenceDeps): Promise<void> {
  if (deps.local.connections.size === 0) return
  await deps.store.refresh(deps.local.connections, deps.clock.now(), deps.options.connectionTtlMs)
}
