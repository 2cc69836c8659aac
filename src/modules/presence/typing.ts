import type { TypingIndicator } from '../../../schemas/chat.ts'
import type { TypingEvent } from '../../../schemas/events.ts'
import { storeFailed, type PresenceDeps, type PresenceUser } from './deps.ts'

/*
 * Typing indicators (DESIGN §6): a start lasts the typing TTL unless started again; its end is
 * broadcast by the instance that last started it, even when the typer vanished meanwhile, and
 * only if no instance refreshed it since.
 */

function broadcastTyping (deps: PresenceDeps, user: PresenceUser, groupId: string, isTyping: boolean): void {
  const event: TypingEvent = { type: 'chat:typing', payload: { groupId, userId: user.id, username: user.username, isTyping } }
  deps.bus.publish({ groupId }, event)
}

/** Starts or stops the user's typing indicator in a group; a start expires after the typing TTL. */
export async function setTyping (deps: PresenceDeps, user: PresenceUser, groupId: string, isTyping: boolean): Promise<{ groupId: string, isTyping: boolean }> {
  const key = `${groupId}|${user.id}`
  const current = deps.local.typingTimers.get(key)
  current?.timer.cancel()
  deps.local.typingTimers.delete(key)
  if (!isTyping) {
    let removed = false
    try {
      removed = await deps.store.stopTyping(groupId, user.id)
    } catch (err) {
      storeFailed(deps, err, 'typing stop')
    }
    if (removed || current !== undefined) broadcastTyping(deps, user, groupId, false)
    return { groupId, isTyping }
  }
  const now = deps.clock.now()
  const startedAt = current?.startedAt ?? now
  const { typingTtlMs } = deps.options
  try {
    // The group's entry outlives the indicator so the expiry timer still finds it to end and announce.
    await deps.store.startTyping(groupId, { userId: user.id, username: user.username, startedAt, expiresAt: now + typingTtlMs }, 2 * typingTtlMs + 1000)
  } catch (err) {
    storeFailed(deps, err, 'typing start')
  }
  const timer = deps.clock.setTimeout(async () => { await expireTyping(deps, user, groupId, key) }, typingTtlMs)
  deps.local.typingTimers.set(key, { timer, startedAt })
  broadcastTyping(deps, user, groupId, true)
  return { groupId, isTyping }
}

/** The typing TTL passed since this instance's last start: end it unless refreshed elsewhere. */
async function expireTyping (deps: PresenceDeps, user: PresenceUser, groupId: string, key: string): Promise<void> {
  deps.local.typingTimers.delete(key)
  const expired = deps.store.expireTyping(groupId, user.id, deps.clock.now()).catch((err: unknown) => {
    storeFailed(deps, err, 'typing expiry')
    return true
  })
  if (await deps.local.track(expired)) broadcastTyping(deps, user, groupId, false)
}

/** Who is typing in the group now, earliest first. */
export async function typingUsers (deps: PresenceDeps, groupId: string): Promise<TypingIndicator[]> {
  const now = deps.clock.now()
  const typers = (await deps.store.typers(groupId)).filter((entry) => entry.expiresAt > now)
  typers.sort((a, b) => a.startedAt - b.startedAt || a.userId - b.userId)
  return typers.map((entry) => ({
    userId: entry.userId,
    username: entry.username,
    groupId,
    isTyping: true,
    startedAt: new Date(entry.startedAt).toISOString()
  }))
}
