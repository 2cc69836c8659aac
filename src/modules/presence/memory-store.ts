import type { MemoryTable } from '../../lib/store/memory-table.ts'
import { presenceConnectionsKey as connsKey, presenceUserKey as userKey, typingKey } from '../../lib/store/keys.ts'
import { USER_STATE_TTL_MS, type PresenceStore, type TypingEntry, type TypingStore } from './store.ts'

/*
 * Presence and typing on a single node (REDIS_URL=memory): the state and the rules of the
 * Redis scripts in store.ts, on the in-process table (expired entries swept, size bounded).
 * One instance sees every connection, so "online" is read from the user's connections instead
 * of a separate online set. Each operation runs without an await: nothing interleaves with it.
 */

/** Connection id → expiry (ms). */
type Connections = Map<string, number>

interface UserState {
  status?: string
  device?: string
  /** Shown online: connected, or within the grace after the last sign of life. */
  visible?: boolean
  seen?: number
}

/** User id → entry. */
type Typers = Map<number, TypingEntry>

const latest = (connections: Connections): number => Math.max(...connections.values())

export function memoryPresenceStore (table: MemoryTable): PresenceStore {
  return { ...memoryConnectionState(table), ...memoryTypingStore(table) }
}

/** The user's connections that have not expired by `now`. */
function liveConnections (table: MemoryTable, userId: number, now: number): Connections {
  const connections = table.get<Connections>(connsKey(userId)) ?? new Map<string, number>()
  for (const [connectionId, expiry] of connections) if (expiry <= now) connections.delete(connectionId)
  return connections
}

/** Writes the user's connections back, or drops the key when none is left (as Redis drops an empty set). */
function saveConnections (table: MemoryTable, userId: number, connections: Connections): void {
  if (connections.size === 0) table.delete(connsKey(userId))
  else table.set(connsKey(userId), connections, latest(connections))
}

function saveUser (table: MemoryTable, userId: number, state: UserState): void {
  table.set(userKey(userId), state, table.now() + USER_STATE_TTL_MS)
}

/** A connection of the user lives at `now` (ZCOUNT from now, inclusive, or the online set's `> now`). */
function hasLive (table: MemoryTable, userId: number, now: number, inclusive: boolean): boolean {
  const connections = table.get<Connections>(connsKey(userId))
  if (connections === undefined) return false
  for (const expiry of connections.values()) if (inclusive ? expiry >= now : expiry > now) return true
  return false
}

/** Connections and shown status. */
function memoryConnectionState (table: MemoryTable): Omit<PresenceStore, keyof TypingStore> {
  return {
    async connect (userId, connectionId, now, policy) {
      const connections = liveConnections(table, userId, now)
      const count = connections.size
      if (count >= policy.maxConnectionsPerUser && !connections.has(connectionId)) {
        saveConnections(table, userId, connections)
        return { accepted: false, openConnections: count, wasVisible: false }
      }
      connections.set(connectionId, now + policy.connectionTtlMs)
      saveConnections(table, userId, connections)
      const user = table.get<UserState>(userKey(userId)) ?? {}
      const wasVisible = user.visible === true
      if (!wasVisible) {
        user.visible = true
        user.status = 'online'
      }
      saveUser(table, userId, user)
      return { accepted: true, openConnections: count, wasVisible }
    },

    async disconnect (userId, connectionId, now) {
      const connections = liveConnections(table, userId, now)
      connections.delete(connectionId)
      saveConnections(table, userId, connections)
      if (connections.size === 0) saveUser(table, userId, { ...table.get<UserState>(userKey(userId)), seen: now })
      return connections.size
    },

    async goOffline (userId, now, graceMs) {
      if (liveConnections(table, userId, now).size > 0) return null
      const user = table.get<UserState>(userKey(userId))
      const expiresAt = table.expiryOf(userKey(userId))
      if (user === undefined || expiresAt === null || user.visible !== true) return null
      const seen = user.seen ?? 0
      if (now - seen < graceMs) return null
      user.visible = false
      table.set(userKey(userId), user, expiresAt)
      return { seen, announce: user.status !== 'offline' }
    },

    async refresh (connections, now, connectionTtlMs) {
      const expiry = now + connectionTtlMs
      for (const [userId, connectionIds] of connections) {
        const stored = table.get<Connections>(connsKey(userId)) ?? new Map<string, number>()
        for (const connectionId of connectionIds) stored.set(connectionId, expiry)
        saveConnections(table, userId, stored)
      }
    },

    async setStatus (userId, status, device, seen) {
      const user: UserState = { ...table.get<UserState>(userKey(userId)), status, visible: true, seen }
      if (device !== undefined) user.device = device
      saveUser(table, userId, user)
    },

    async members (userIds, now) {
      return userIds.map((userId) => {
        const user = table.get<UserState>(userKey(userId))
        return {
          live: hasLive(table, userId, now, true),
          status: user?.status ?? null,
          device: user?.device ?? null,
          visible: user?.visible === true,
          seen: user?.seen ?? null
        }
      })
    },

    async onlineAmong (userIds, now) {
      return new Set(userIds.filter((userId) => hasLive(table, userId, now, false)))
    }
  }
}

function memoryTypingStore (table: MemoryTable): TypingStore {
  return {
    async startTyping (groupId, entry, keepMs) {
      const typers = table.get<Typers>(typingKey(groupId)) ?? new Map<number, TypingEntry>()
      typers.set(entry.userId, entry)
      table.set(typingKey(groupId), typers, table.now() + keepMs)
    },

    async stopTyping (groupId, userId) {
      const typers = table.get<Typers>(typingKey(groupId))
      if (typers === undefined || !typers.delete(userId)) return false
      if (typers.size === 0) table.delete(typingKey(groupId))
      return true
    },

    async expireTyping (groupId, userId, now) {
      const typers = table.get<Typers>(typingKey(groupId))
      const entry = typers?.get(userId)
      if (typers === undefined || entry === undefined || entry.expiresAt > now) return false
      typers.delete(userId)
      if (typers.size === 0) table.delete(typingKey(groupId))
      return true
    },

    async typers (groupId) {
      return [...(table.get<Typers>(typingKey(groupId))?.values() ?? [])]
    }
  }
}
