import type { SubscriberSets, Subscription } from '../lib/store/subscribers.ts'
import type { Connection } from './connection.ts'
import type { Fanout } from './fanout.ts'

export interface HeartbeatDeps {
  connections: Map<string, Connection>
  subscribers: SubscriberSets
  fanout: Fanout
  subscriberTtlMs: number
  pingIntervalMs: number
}

/**
 * Pings every connection each interval; one that has not answered since the last ping is gone
 * (terminated: it counts as closed). The subscriptions of the live ones, and the audience,
 * are refreshed across instances in one pipeline. Returns the stop.
 */
export function startHeartbeat (deps: HeartbeatDeps): () => void {
  const timer = setInterval(() => {
    const subscribed: Subscription[] = []
    for (const conn of deps.connections.values()) {
      if (!conn.alive) {
        conn.socket.terminate()
        continue
      }
      conn.alive = false
      try { conn.socket.ping() } catch { /* closing already */ }
      for (const groupId of conn.subscriptions.keys()) subscribed.push({ groupId, connectionId: conn.id })
    }
    // One pipeline for the lot in Redis.
    deps.subscribers.refresh(subscribed, deps.subscriberTtlMs).catch(() => {})
    deps.fanout.audience.refresh(deps.fanout.localGroups.subscribedUsers()).catch(() => {})
  }, deps.pingIntervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
