import {
  DeviceType as DeviceTypeSchema, PresenceStatus as PresenceStatusSchema,
  type DeviceType, type PresenceStatus, type UserPresence
} from '../../../schemas/chat.ts'
import type { ContactPresence } from '../../../schemas/chat-management.ts'
import { scheduleOfflineCheck } from './connections.ts'
import { broadcastPresence, storeFailed, type PresenceDeps, type PresenceUser } from './deps.ts'
import type { MemberSeen } from './repository.ts'
import type { MemberState } from './store.ts'

const PRESENCE_STATUSES: readonly PresenceStatus[] = PresenceStatusSchema.anyOf.map((s) => s.const)
const DEVICE_TYPES: readonly DeviceType[] = DeviceTypeSchema.anyOf.map((d) => d.const)
/** A status read back from the store; anything unexpected reads as online. */
const asStatus = (value: string | null): PresenceStatus => PRESENCE_STATUSES.find((s) => s === value) ?? 'online'
const asDevice = (value: string | null): DeviceType | undefined => DEVICE_TYPES.find((d) => d === value)

/** Sets the user's status (all their groups see it) and counts as a sign of life. */
export async function updatePresence (
  deps: PresenceDeps, user: PresenceUser, groupId: string, status: PresenceStatus, deviceType?: DeviceType
): Promise<{ groupId: string, status: PresenceStatus, deviceType?: DeviceType }> {
  const now = deps.clock.now()
  try {
    await deps.store.setStatus(user.id, status, deviceType, now)
  } catch (err) {
    storeFailed(deps, err, 'presence update')
  }
  // A REST-only client stays online for the grace after its last update.
  if (deps.local.connectionCount(user.id) === 0) scheduleOfflineCheck(deps, user)
  await broadcastPresence(deps, user, status, new Date(now))
  return deviceType === undefined ? { groupId, status } : { groupId, status, deviceType }
}

/** The group's members with their current status. */
export async function groupPresence (deps: PresenceDeps, groupId: string): Promise<UserPresence[]> {
  const members = await deps.repository.membersOf(groupId)
  if (members.length === 0) return []
  const now = deps.clock.now()
  let states: MemberState[]
  try {
    states = await deps.store.members(members.map((m) => m.userId), now)
  } catch (err) {
    storeFailed(deps, err, 'presence read')
    states = members.map((m) => ({ live: deps.local.connectionCount(m.userId) > 0, status: null, device: null, visible: false, seen: null }))
  }
  return members.map((member, i) => presenceOf(deps, member, states[i], groupId, now))
}

/** Users' presence, whatever group: for a contact list (the caller chose who may be asked). */
export async function usersPresence (deps: PresenceDeps, users: MemberSeen[]): Promise<ContactPresence[]> {
  if (users.length === 0) return []
  const now = deps.clock.now()
  let states: MemberState[]
  try {
    states = await deps.store.members(users.map((m) => m.userId), now)
  } catch (err) {
    storeFailed(deps, err, 'presence read')
    states = users.map((m) => ({ live: deps.local.connectionCount(m.userId) > 0, status: null, device: null, visible: false, seen: null }))
  }
  return users.map((user, i) => {
    const { status, lastSeenAt, deviceType } = presenceOf(deps, user, states[i], '', now)
    const contact: ContactPresence = { userId: user.userId, username: user.username, status, lastSeenAt: new Date(lastSeenAt).toISOString() }
    if (deviceType !== undefined) contact.deviceType = deviceType
    return contact
  })
}

/** One member's presence: live or within the grace shows their status, else offline. */
function presenceOf (deps: PresenceDeps, member: MemberSeen, state: MemberState | undefined, groupId: string, now: number): UserPresence {
  const live = state?.live ?? false
  const seenAt = state?.seen ?? null
  const inGrace = state?.visible === true && seenAt !== null && now - seenAt < deps.options.graceMs
  const lastSeen = live ? new Date(now) : seenAt !== null ? new Date(seenAt) : member.lastSeenAt
  const presence: UserPresence = {
    userId: member.userId,
    username: member.username,
    groupId,
    status: live || inGrace ? asStatus(state?.status ?? null) : 'offline',
    lastSeenAt: (lastSeen ?? new Date(0)).toISOString()
  }
  const deviceType = asDevice(state?.device ?? null)
  if (deviceType !== undefined) presence.deviceType = deviceType
  return presence
}

/** The users among `userIds` with a live connection on any instance. */
export async function onlineUserIds (deps: PresenceDeps, userIds: number[]): Promise<Set<number>> {
  if (userIds.length === 0) return new Set()
  try {
    return await deps.store.onlineAmong(userIds, deps.clock.now())
  } catch (err) {
    storeFailed(deps, err, 'online lookup')
    return new Set(userIds.filter((userId) => deps.local.connectionCount(userId) > 0))
  }
}
