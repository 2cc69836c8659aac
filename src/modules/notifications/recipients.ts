import type { Transaction } from 'kysely'
import type { Database, NotificationTypeName } from '../../../db/database.ts'
import type { MessageMetadata } from '../../../schemas/chat.ts'
import type { Keyring } from '../../lib/keyring.ts'
import { fromBin } from '../../lib/ids.ts'
import type { NotificationJobRow, NotificationRepository, RecipientCandidate } from './repository.ts'

/** Someone a job notifies, and as what. */
export interface Recipient {
  candidate: RecipientCandidate
  type: NotificationTypeName
  mentionType: 'user' | 'everyone' | null
}

export interface RecipientDeps {
  repo: NotificationRepository
  keyring: Keyring
}

/**
 * Whether the recipient wants this notification: nothing from a user they blocked, nothing
 * from a muted chat or one set to `none`, only mentions and replies from a chat set to
 * `mentions`, and only the types their preferences leave on.
 */
export function wants (candidate: RecipientCandidate, type: NotificationTypeName, now: Date): boolean {
  if (candidate.blocked) return false
  if (candidate.muted_until !== null && candidate.muted_until > now) return false
  if (candidate.notification_level === 'none') return false
  if (candidate.notification_level === 'mentions' && type !== 'mention' && type !== 'reply') return false
  const preference = type === 'added_to_group' ? candidate.added_to_group : candidate[type]
  return preference !== false
}

async function metadataOf (deps: RecipientDeps, groupBin: Buffer, messageBin: Buffer, sealed: Buffer | null, keyVersion: number | null): Promise<MessageMetadata> {
  if (sealed === null || keyVersion === null) return {}
  const text = await deps.keyring.decrypt(fromBin(groupBin), { ciphertext: sealed, keyVersion }, { recordId: fromBin(messageBin), field: 'metadata' })
  return JSON.parse(text) as MessageMetadata
}

/**
 * A message's recipients: the members it names (mention), every other member for @everyone
 * (one query, whatever the group's size), and the sender of the message it replies to (reply).
 * A member both mentioned and replied to gets one notification, the mention.
 */
async function messageRecipients (deps: RecipientDeps, trx: Transaction<Database>, job: NotificationJobRow, messageBin: Buffer): Promise<Recipient[]> {
  const message = await deps.repo.jobMessage(trx, job.group_id, messageBin)
  if (message === null || message.is_deleted) return []
  const metadata = await metadataOf(deps, job.group_id, messageBin, message.metadata, message.metadata_key_version)
  const mentions = metadata.mentions ?? []
  const everyone = mentions.some((m) => m.type === 'everyone')
  const named = new Set(mentions.filter((m) => m.type === 'user').map((m) => m.userId))
  let repliedTo: number | null = null
  if (message.parent_message_id !== null) {
    const parent = await deps.repo.jobMessage(trx, job.group_id, message.parent_message_id)
    if (parent !== null && !parent.is_deleted) repliedTo = parent.sender_user_id
  }
  const wanted = everyone ? null : [...new Set([...named, ...(repliedTo === null ? [] : [repliedTo])])]
  const candidates = await deps.repo.candidates(trx, job.group_id, job.actor_user_id, wanted)
  return candidates.flatMap((candidate): Recipient[] => {
    if (named.has(candidate.user_id)) return [{ candidate, type: 'mention', mentionType: 'user' }]
    if (everyone) return [{ candidate, type: 'mention', mentionType: 'everyone' }]
    if (candidate.user_id === repliedTo) return [{ candidate, type: 'reply', mentionType: null }]
    return []
  })
}

/** The one member a reaction or an addition concerns, while still a member (and the message still there). */
async function targetRecipient (deps: RecipientDeps, trx: Transaction<Database>, job: NotificationJobRow, type: NotificationTypeName): Promise<Recipient[]> {
  if (job.target_user_id === null) return []
  if (job.message_id !== null) {
    const message = await deps.repo.jobMessage(trx, job.group_id, job.message_id)
    if (message === null || message.is_deleted) return []
  }
  const candidates = await deps.repo.candidates(trx, job.group_id, job.actor_user_id, [job.target_user_id])
  return candidates.map((candidate) => ({ candidate, type, mentionType: null }))
}

/** Who the job notifies, after every preference, mute and block. */
export async function recipientsOf (deps: RecipientDeps, trx: Transaction<Database>, job: NotificationJobRow, now: Date): Promise<Recipient[]> {
  let all: Recipient[]
  if (job.kind === 'message') all = job.message_id === null ? [] : await messageRecipients(deps, trx, job, job.message_id)
  else all = await targetRecipient(deps, trx, job, job.kind)
  return all.filter((r) => wants(r.candidate, r.type, now))
}
