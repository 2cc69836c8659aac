import type { KeyChangeKindName } from '../../../db/database.ts'
import type { KeyChange } from '../../../schemas/keys.ts'
import type { KeyChangedEvent } from '../../../schemas/events.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { GroupService } from '../groups/service.ts'
import type { KeyChangeRow, NewKeyChange } from './repository.ts'

/** One change of a user's keys as the service records and announces it. */
export interface KeyChangeFact {
  userId: number
  deviceId: string
  keyId: string
  kind: KeyChangeKindName
  fingerprint: string
  previousKeyId: string | null
  changedAt: Date
}

export const toLogEntry = (fact: KeyChangeFact): NewKeyChange => ({
  user_id: fact.userId,
  device_id: fact.deviceId,
  key_id: fact.keyId,
  kind: fact.kind,
  fingerprint: fact.fingerprint,
  previous_key_id: fact.previousKeyId,
  changed_at: fact.changedAt
})

export const toKeyChange = (row: KeyChangeRow): KeyChange => ({
  id: row.id,
  userId: row.user_id,
  deviceId: row.device_id,
  keyId: row.key_id,
  change: row.kind,
  fingerprint: row.fingerprint,
  previousKeyId: row.previous_key_id,
  changedAt: row.changed_at.toISOString()
})

/**
 * Tells the owner and everyone who shares a group with them, after commit: one user-addressed
 * publish per person. A user event reaches every connection of that user on every instance
 * whatever groups they joined on the socket, exactly once, where publishing to the owner's
 * groups would miss connections not subscribed to them and repeat the event once per shared
 * group. The event object is the same for all, so the gateway serializes it once.
 */
export async function announceKeyChange (deps: { groups: GroupService, bus: Bus }, fact: KeyChangeFact): Promise<void> {
  const event: KeyChangedEvent = {
    type: 'chat:key_changed',
    payload: {
      userId: fact.userId,
      deviceId: fact.deviceId,
      keyId: fact.keyId,
      change: fact.kind,
      fingerprint: fact.fingerprint,
      previousKeyId: fact.previousKeyId,
      changedAt: fact.changedAt.toISOString()
    }
  }
  const recipients = new Set(await deps.groups.peersOf(fact.userId))
  recipients.add(fact.userId)
  for (const userId of recipients) deps.bus.publish({ userId }, event)
}
