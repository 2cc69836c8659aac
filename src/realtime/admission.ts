import type { AuthUser } from '../plugins/auth.ts'
import { AppError } from '../lib/app-error.ts'
import { AuthFrame, WS_CLOSE_CODES } from '../../schemas/ws.ts'
import type { Caller } from './commands.ts'
import type { Connection } from './connection.ts'
import { assertFrame, compileFrame, type RawFrame } from './frames.ts'
import type { UserConnections } from './connection-index.ts'
import type { GatewayPorts } from './ports.ts'
import { sendError, sendTo } from './replies.ts'
import { closeSessionEnded, scheduleExpiry } from './session-expiry.ts'
import type { PendingCleanups } from './shutdown.ts'
import { onUserEvent, unsubscribeAll, type SubscriptionDeps } from './subscriptions.ts'

/*
 * A connection's life once the socket is open: credentials by `auth` frame (when the URL
 * carried none), admission (indexing, expiry, block list, presence's per-user limit, the
 * user's events, chat:sync) and the release of all of it on close.
 */

export interface AdmissionDeps extends SubscriptionDeps {
  ports: GatewayPorts
  /** This instance's connections by id, authenticated or being authenticated. */
  connections: Map<string, Connection>
  users: UserConnections
  cleanups: PendingCleanups
  maxConnectionsPerUser: number
}

export const authCheck = compileFrame(AuthFrame)

/** The caller's membership of a group; FORBIDDEN when they are not a member. */
export async function callerIn (ports: Pick<GatewayPorts, 'membershipOf'>, user: AuthUser, groupId: string): Promise<Caller> {
  const membership = await ports.membershipOf(groupId, user.id)
  if (membership === null) throw new AppError('FORBIDDEN', 'You are not a member of this group')
  return { user, membership }
}

/** The first frame of a connection opened without credentials: `auth`, or the connection closes with 4001. */
export function authenticateByFrame (deps: AdmissionDeps, conn: Connection, frame: RawFrame): void {
  if (frame.type !== 'auth') {
    conn.close(WS_CLOSE_CODES.authFailed, 'Authentication required')
    return
  }
  try {
    assertFrame(authCheck, frame)
  } catch {
    conn.close(WS_CLOSE_CODES.authFailed, 'Authentication required')
    return
  }
  if (conn.authTimer !== null) clearTimeout(conn.authTimer)
  conn.authTimer = null
  conn.state = 'authenticating'
  const { requestId } = frame
  conn.enqueue(async () => {
    let user: AuthUser
    try {
      user = await deps.ports.verifyAccessToken(frame.token ?? '')
    } catch {
      conn.close(WS_CLOSE_CODES.authFailed, 'Invalid or expired token')
      return
    }
    deps.connections.set(conn.id, conn)
    if (await admit(deps, conn, user).catch((err: unknown) => { sendError(deps.log, conn, err, requestId); return false }) && requestId !== undefined) {
      sendTo(conn, { type: 'chat:ack', payload: { success: true, userId: user.id }, requestId })
    }
  })
}

/** The connection is authenticated: count it, listen to the user's events, send chat:sync. */
export async function admit (deps: AdmissionDeps, conn: Connection, user: AuthUser): Promise<boolean> {
  const { ports } = deps
  // The socket may have closed while its credentials were checked: nothing is left to admit.
  if (conn.isClosed()) return false
  conn.user = user
  conn.state = 'authenticating'
  // Indexed before anything is awaited, and checked against sessions that ended while the
  // credentials were verified: no ended session's notice can slip past a connection.
  deps.users.add(conn, user.id)
  if (!user.external && ports.sessionEndedRecently(user.sessionId)) {
    closeSessionEnded(conn)
    return false
  }
  scheduleExpiry(conn, user)
  // Read after indexing, so a block made meanwhile reaches the list through its notice.
  conn.blockedSenders.beginLoad()
  conn.blockedSenders.finishLoad(await ports.blockedIdsOf(user.id))
  const admission = await ports.connectionOpened(user, conn.id)
  if (!admission.accepted) {
    conn.close(WS_CLOSE_CODES.rateLimited, `At most ${deps.maxConnectionsPerUser} connections per user`)
    return false
  }
  conn.registered = true
  if (conn.isClosed()) {
    // The socket closed while presence counted it.
    deps.cleanups.track(ports.connectionClosed(user, conn.id))
    return false
  }
  conn.state = 'ready'
  conn.stopUserEvents = deps.bus.subscribe({ userId: user.id }, (event) => { onUserEvent(deps, conn, event) })
  await sendSync(deps, conn, user)
  return true
}

async function sendSync (deps: AdmissionDeps, conn: Connection, user: AuthUser): Promise<void> {
  try {
    const [groups, unreadNotifications] = await Promise.all([
      deps.ports.syncState(user.id),
      deps.ports.unreadNotifications(user.id)
    ])
    sendTo(conn, { type: 'chat:sync', payload: { groups, unreadNotifications } })
  } catch (err) {
    deps.log.error({ err }, 'chat:sync failed')
  }
}

/** The socket closed: timers, indexes, subscriptions, the user's events and presence let go of it. */
export function release (deps: AdmissionDeps, conn: Connection): void {
  const wasState = conn.state
  conn.state = 'closed'
  if (conn.authTimer !== null) clearTimeout(conn.authTimer)
  if (conn.expiryTimer !== null) clearTimeout(conn.expiryTimer)
  conn.expiryTimer = null
  deps.users.remove(conn)
  deps.connections.delete(conn.id)
  unsubscribeAll(deps, conn)
  conn.stopUserEvents?.()
  conn.stopUserEvents = null
  if (conn.user !== null && conn.registered && wasState !== 'closed') {
    deps.cleanups.track(deps.ports.connectionClosed(conn.user, conn.id))
  }
}
