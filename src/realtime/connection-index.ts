import type { Bus } from '../plugins/bus.ts'
import type { Connection } from './connection.ts'
import { closeSessionEnded } from './session-expiry.ts'

/** This instance's authenticated connections by user, for the notices that concern a user's sockets. */
export class UserConnections {
  private readonly byUser = new Map<number, Set<Connection>>()

  add (conn: Connection, userId: number): void {
    let set = this.byUser.get(userId)
    if (set === undefined) {
      set = new Set()
      this.byUser.set(userId, set)
    }
    set.add(conn)
  }

  /** Forgets the connection under its user (a connection never authenticated was never added). */
  remove (conn: Connection): void {
    const userId = conn.user?.id
    if (userId === undefined) return
    const set = this.byUser.get(userId)
    if (set === undefined || !set.delete(conn) || set.size > 0) return
    this.byUser.delete(userId)
  }

  of (userId: number): Iterable<Connection> {
    return this.byUser.get(userId) ?? []
  }
}

/**
 * Applies the notices any instance sends about a user's sockets (plugins/bus.ts notices): a
 * changed block list, ended sessions (closed with 4001 everywhere at once). Returns the stop.
 */
export function followNotices (bus: Bus, users: UserConnections): () => void {
  return bus.onNotice((notice) => {
    if (notice.type === 'blocks_changed') {
      for (const conn of users.of(notice.userId)) conn.blockedSenders.change(notice.blockedUserId, notice.blocked)
      return
    }
    if (notice.type !== 'sessions_ended') return
    const ended = new Set(notice.sessionIds)
    for (const conn of users.of(notice.userId)) {
      if (conn.user !== null && ended.has(conn.user.sessionId)) closeSessionEnded(conn)
    }
  })
}
