import { CHAT_LIMITS, type ChatMessage, type MessageMetadata, type SendMessageRequest } from '../../../schemas/chat.ts'
import type { PublishOptions } from '../../plugins/bus.ts'
import { AppError, forbidden, invalid, notFound } from '../../lib/app-error.ts'
import type { Sealed } from '../../lib/keyring.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { hasRole, type Caller, type Membership } from '../membership/guard.ts'
import { checkContent, groupIdOf, messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { notifiesAnyone, publishMentions, resolveMentions } from './mentions.ts'
import { toChatMessage, toMessageEvent } from './message-mapper.ts'
import { checkMetadata, isEmptyMetadata } from './metadata-validation.ts'
import { present } from './present.ts'
import type { MessageView } from './repository.ts'
import type { SendOutcome, SendRefusal } from './send-batcher.ts'
import type { SendRow } from './send-transaction.ts'
import type { SendOrigin } from './service.ts'

/*
 * The send path (hot): checks, sealing, tokenizing and resolving mentions before any lock, one
 * commit through the send batcher (which assigns the seq), then the events. A forwarded copy
 * (forward.ts) takes this same path.
 */

/** Why only admins and the owner may post this (a broadcast group, a system message); null when any member may. */
function adminOnlyReason (membership: Membership, contentType: ChatMessage['contentType']): string | null {
  if (membership.groupType === 'broadcast') return 'Only admins and the owner can post in a broadcast group'
  return contentType === 'system' ? 'Only admins and the owner can post system messages' : null
}

function clientMessageIdOf (input: SendMessageRequest): string | null {
  const clientMessageId = input.clientMessageId ?? null
  if (clientMessageId !== null && (typeof clientMessageId !== 'string' || clientMessageId.length < 1 || clientMessageId.length > CHAT_LIMITS.clientMessageIdMaxLength)) {
    throw invalid('clientMessageId', `clientMessageId must be 1-${CHAT_LIMITS.clientMessageIdMaxLength} characters`)
  }
  return clientMessageId
}

/** A send's attachmentIds as distinct BINARY(16) ids; at most CHAT_LIMITS.attachmentsMax. */
function attachmentBinsOf (attachmentIds: unknown): Buffer[] {
  if (attachmentIds === undefined) return []
  if (!Array.isArray(attachmentIds) || attachmentIds.length > CHAT_LIMITS.attachmentsMax) {
    throw invalid('attachmentIds', `attachmentIds must be a list of at most ${CHAT_LIMITS.attachmentsMax} ids`)
  }
  const distinct = new Map<string, Buffer>()
  for (const id of attachmentIds) {
    const bin = messageBinOf(String(id), 'attachmentIds')
    distinct.set(bin.toString('hex'), bin)
  }
  return [...distinct.values()]
}

/** The message a retried send answers with: the one first stored under its clientMessageId. */
async function originalOf (deps: ChatDeps, caller: Caller, messageBin: Buffer): Promise<ChatMessage> {
  const original = await deps.repo.findInGroup(caller.membership.groupIdBin, messageBin)
  if (original === null) throw notFound('Message')
  const [message] = await present(deps, [original], caller.user.id, { reactions: true, readBy: false })
  return message as ChatMessage
}

/**
 * A send the spam check refused. Last of the checks, so a send refused for another reason does
 * not count for the duplicate rule. A retry of a stored clientMessageId is answered with the
 * original whatever the rules say of it now (its text may repeat another message's).
 */
async function answerRefused (deps: ChatDeps, caller: Caller, clientMessageId: string | null, refusal: unknown): Promise<{ message: ChatMessage, created: false }> {
  const original = clientMessageId === null ? null : await deps.repo.findByClientMessageId(caller.membership.groupIdBin, caller.user.id, clientMessageId)
  if (original === null) throw refusal
  return { message: await originalOf(deps, caller, original.id), created: false }
}

/**
 * Everything of a send that needs no lock, at once, before the transaction opens: the block
 * check of a direct chat, the parent, the mentioned members, the sealed content and metadata.
 * The transaction itself is then a handful of writes.
 */
function beforeTheLock (deps: ChatDeps, caller: Caller, groupId: string, input: SendMessageRequest, id: string, content: string, metadata: MessageMetadata): Promise<[boolean, MessageView | null, Map<number, 'user' | 'everyone'>, Sealed, Sealed | null]> {
  const { user, membership } = caller
  const groupBin = membership.groupIdBin
  return Promise.all([
    membership.groupType === 'direct' ? deps.repo.blockedWithinGroup(groupBin, user.id) : Promise.resolve(false),
    input.parentMessageId !== undefined
      ? deps.repo.findVisible(groupBin, messageBinOf(input.parentMessageId, 'parentMessageId'), user.id)
      : Promise.resolve(null),
    resolveMentions(deps, caller, metadata),
    deps.keyring.encrypt(groupId, content, { recordId: id, field: 'content' }),
    isEmptyMetadata(metadata) ? Promise.resolve(null) : deps.keyring.encrypt(groupId, JSON.stringify(metadata), { recordId: id, field: 'metadata' })
  ])
}

/** The row as committed, with the defaults the table filled in: nothing to read back. */
function committedRow (stored: SendRow, seq: number, senderUsername: string): MessageView {
  return {
    ...stored,
    seq,
    sender_username: senderUsername,
    thread_reply_count: 0,
    status: 'sent',
    is_edited: false,
    edited_at: null,
    edit_count: 0,
    is_deleted: false,
    deleted_at: null,
    deleted_by: null,
    forwarded_count: 0
  }
}

/** Sends a message; a retry with the same clientMessageId returns the original message (`created: false`). */
export async function sendMessage (deps: ChatDeps, caller: Caller, input: SendMessageRequest, published?: PublishOptions, origin?: SendOrigin): Promise<{ message: ChatMessage, created: boolean }> {
  const { user, membership } = caller
  const groupId = groupIdOf(caller)
  const groupBin = membership.groupIdBin
  const content = checkContent(input.content)
  const contentType = input.contentType ?? 'text'
  const adminOnly = adminOnlyReason(membership, contentType)
  if (adminOnly !== null && !hasRole(membership.role, 'admin')) throw forbidden(adminOnly)
  const clientMessageId = clientMessageIdOf(input)
  const metadata: MessageMetadata = origin?.forwardedFrom === undefined
    ? checkMetadata(content, input.metadata)
    : { ...checkMetadata(content, input.metadata), forwardedFrom: origin.forwardedFrom }
  const attachmentBins = attachmentBinsOf(input.attachmentIds)
  const id = newId()
  const idBin = toBin(id)

  const [blocked, parent, mentioned, sealedContent, sealedMetadata] = await beforeTheLock(deps, caller, groupId, input, id, content, metadata)
  if (blocked) throw forbidden('You cannot send messages in this chat')
  if (input.parentMessageId !== undefined && parent === null) {
    throw invalid('parentMessageId', 'parentMessageId must be a message of this group')
  }
  try {
    await deps.spamCheck({ groupId, senderId: user.id, content, clientMessageId })
  } catch (err) {
    return await answerRefused(deps, caller, clientMessageId, err)
  }
  const tokens = deps.keyring.indexTokens(groupId, content)
  const parentBin = parent?.id ?? null
  const rootBin = parent === null ? null : parent.thread_root_id ?? parent.id
  const now = new Date()

  const stored: SendRow = {
    id: idBin,
    group_id: groupBin,
    sender_user_id: user.id,
    content: sealedContent.ciphertext,
    content_key_version: sealedContent.keyVersion,
    metadata: sealedMetadata?.ciphertext ?? null,
    metadata_key_version: sealedMetadata?.keyVersion ?? null,
    content_type: contentType,
    parent_message_id: parentBin,
    thread_root_id: rootBin,
    client_message_id: clientMessageId,
    created_at: now,
    updated_at: now
  }
  // Committed before this returns: the seq is taken under the group row's exclusive lock,
  // held to commit, so seq order is commit order with no gap. A retry of a clientMessageId
  // the sender already stored takes no seq and is answered with the original message,
  // however concurrent the retries (see send-batcher.ts).
  const notifies = notifiesAnyone(user.id, metadata, parent?.sender_user_id ?? null)
  const commit = (): { committed: Promise<SendOutcome> } => ({
    committed: deps.sendBatcher.commit({
      row: stored,
      tokens,
      mentions: [...mentioned].map(([mentionedUserId, type]) => ({ mentionedUserId, type })),
      threadRootBin: rootBin,
      adminOnly,
      attachmentBins,
      notifies
    })
  })
  // A connection's sends run side by side but reach the batcher, which takes seqs in the order
  // it is handed messages, in the order they were sent. Every send then awaits the batcher's
  // own promise, so the sends of one commit resume, and publish, in seq order.
  const { committed } = origin?.inTurn === undefined ? commit() : await origin.inTurn(commit)
  const outcome = await committed
  if ('refused' in outcome) throw refusalError(outcome.refused)
  if (!outcome.stored) return { message: await originalOf(deps, caller, outcome.originalId), created: false }
  const { seq } = outcome
  if (notifies) deps.notificationJobs.recorded()

  const message = toChatMessage(committedRow(stored, seq, user.username), { content, metadata })
  message.reactions = []
  // Claimed in the send's own commit: what the message carries now is what it will always carry.
  if (attachmentBins.length > 0) message.attachments = (await deps.attachments.ofMessages([idBin])).get(idBin.toString('hex')) ?? []
  // A reply's preview quotes its parent: receivers who cleared the parent are sent the
  // event without it (realtime/cleared-history.ts), told the parent's seq out of band.
  const quoted = parent !== null && metadata.replyPreview !== undefined ? parent.seq : undefined
  deps.bus.publish({ groupId }, toMessageEvent(message, seq, deps.config.broadcastContent), quoted === undefined ? published : { ...published, parentSeq: quoted })
  if (mentioned.size > 0) await publishMentions(deps, groupBin, groupId, message, mentioned, quoted)
  return { message, created: true }
}

/** The error a send meets when its commit refused it (read under the group lock, send-batcher.ts). */
function refusalError (refusal: SendRefusal): AppError {
  switch (refusal.reason) {
    case 'no-group': return notFound('Group')
    case 'not-member': return forbidden('You are not a member of this group')
    case 'admin-only': return forbidden(refusal.why)
    case 'attachments': {
      const attachmentIds = refusal.attachmentBins.map((bin) => fromBin(bin))
      return new AppError('VALIDATION_ERROR', 'Validation failed', { attachmentIds }, [{
        field: 'attachmentIds',
        message: `attachmentIds must be your own uploads in this group, not attached to a message yet: ${attachmentIds.join(', ')}`
      }])
    }
  }
}
