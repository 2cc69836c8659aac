import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import {
  CHAT_LIMITS,
  type ChatAttachment,
  type ChatMessage,
  type CrossGroupSearchRequest,
  type CrossGroupSearchResponse,
  type DeleteMessageResponse,
  type EditMessageRequest,
  type ForwardMessageRequest,
  type ForwardMessageResponse,
  type ForwardedFrom,
  type GetMessagesRequest,
  type GetMessagesResponse,
  type MarkReadResponse,
  type MessageEditHistoryResponse,
  type MessageMetadata,
  type PinMessageResponse,
  type PinnedMessagesResponse,
  type ReactionSummary,
  type SearchMessagesRequest,
  type SearchMessagesResponse,
  type SendMessageRequest,
  type UnpinMessageResponse,
  type UnreadCountResponse
} from '../../../schemas/chat.ts'
import type { ChatMessageEvent, MessageEditedEvent } from '../../../schemas/events.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { PublishOptions } from '../../plugins/bus.ts'
import { AppError, forbidden, invalid, notFound } from '../../lib/app-error.ts'
import { DecryptionError } from '../../lib/keyring.ts'
import { tickBatch } from '../../lib/tick-batch.ts'
import { fromBin, newId, toBin } from '../../lib/ids.ts'
import { hasRole, requireRole, type Membership } from '../groups/guard.ts'
import { duplicateKeyOf, isDeadlock } from '../../../db/errors.ts'
import { chatRepository, type MessageView } from './repository.ts'
import { createSendBatcher } from './send-batcher.ts'
import { checkMetadata, isEmptyMetadata, metadataForEditedContent } from './metadata-validation.ts'
import { DELETED, summarizeReactions, toChatMessage, toMessageEvent, withoutReplyPreview, type OpenedMessage } from './message-mapper.ts'
import { forwardMessage, type CallerIn } from './forward.ts'
import { editHistory } from './edit-history.ts'
import { searchAcrossGroups } from './cross-search.ts'
import { searchFiltersOf } from './search-filters.ts'
import { recordJobs } from '../notifications/jobs.ts'

/** Who acts: the authenticated user and their membership in the group, loaded once per request or command. */
export interface Caller {
  user: AuthUser
  membership: Membership
}

/** A group's chat state for chat:sync right after a WebSocket connects. */
export interface GroupSyncState {
  groupId: string
  latestSeq: number
  unreadCount: number
  lastReadMessageId: string | null
}

/** The newest message of a chat as the chat list previews it. */
export interface LastMessagePreview {
  id: string
  senderUserId: number
  senderUsername: string
  contentType: ChatMessage['contentType']
  /** The first ~100 characters, decrypted; null when the message is deleted. */
  preview: string | null
  createdAt: string
  seq: number
}

export interface ChatSummary {
  lastMessage: LastMessagePreview | null
  unreadCount: number
}

/** What only the server sets on a send: where a forwarded copy came from. */
export interface SendOrigin {
  forwardedFrom?: ForwardedFrom
}

export interface ReplayResult {
  events: ChatMessageEvent[]
  latestSeq: number
  /** The caller's clear watermark of the group: messages up to it are cleared for them (0: none). */
  clearedSeq: number
  /** True when more than the limit follow sinceSeq: then no event is read or returned (the client pages over REST). */
  truncated: boolean
}

/** The chat area's operations, shared by the REST routes and the WebSocket commands. */
export interface ChatService {
  /**
   * Sends a message; a retry with the same clientMessageId returns the original message (`created: false`).
   * `published.originConnectionId`: the WebSocket connection that sent it, which gets its ack
   * instead of the chat:message (the sender's other connections get both).
   */
  sendMessage: (caller: Caller, input: SendMessageRequest, published?: PublishOptions, origin?: SendOrigin) => Promise<{ message: ChatMessage, created: boolean }>
  /**
   * Sends a copy of a message the caller is shown into each target group (`callerIn` resolves
   * the caller's membership there), each target succeeding or failing on its own.
   */
  forwardMessage: (caller: Caller, messageId: string, input: ForwardMessageRequest, callerIn: CallerIn) => Promise<ForwardMessageResponse>
  /** The previous versions of a message the caller is shown, newest first. */
  editHistory: (caller: Caller, messageId: string) => Promise<MessageEditHistoryResponse>
  /** Searches the caller's most recently active groups at once, newest first, with a cursor. */
  searchAcrossGroups: (user: AuthUser, query: CrossGroupSearchRequest) => Promise<CrossGroupSearchResponse>
  /** A page of history, newest first (see GetMessagesResponse for the cursors); senders the caller blocked are left out. */
  listMessages: (caller: Caller, query: GetMessagesRequest) => Promise<GetMessagesResponse>
  /** One message with its reactions and readers. */
  getMessage: (caller: Caller, messageId: string) => Promise<ChatMessage>
  /** Edits the caller's own message, keeping the previous version sealed in the edit history. */
  editMessage: (caller: Caller, messageId: string, input: EditMessageRequest) => Promise<ChatMessage>
  /** Soft-deletes a message (its sender, or a group admin or the owner); idempotent. */
  deleteMessage: (caller: Caller, messageId: string) => Promise<DeleteMessageResponse>
  /** A message as a system administrator reviewing a report sees it, member or not; null when it does not exist. */
  messageForModeration: (groupId: string, messageId: string) => Promise<ChatMessage | null>
  /** Soft-deletes a message on a system administrator's decision, as deleteMessage does; idempotent. */
  deleteForModeration: (groupId: string, messageId: string, moderatorId: number) => Promise<DeleteMessageResponse>
  /** Adds the caller's reaction (a no-op when they already have it). */
  addReaction: (caller: Caller, messageId: string, emoji: string) => Promise<ReactionSummary[]>
  /** Removes the caller's reaction (a no-op when they do not have it). */
  removeReaction: (caller: Caller, messageId: string, emoji: string) => Promise<ReactionSummary[]>
  /** A message's reactions, relative to the caller. */
  listReactions: (caller: Caller, messageId: string) => Promise<ReactionSummary[]>
  /** Moves the caller's read watermark up to the message; never back. */
  markRead: (caller: Caller, messageId: string) => Promise<MarkReadResponse>
  /** Messages from others after the caller's read and clear watermarks, not deleted. */
  unreadCount: (caller: Caller) => Promise<UnreadCountResponse>
  /** Pins a message (admins and the owner); pinning again replaces the note. */
  pinMessage: (caller: Caller, messageId: string, note?: string) => Promise<PinMessageResponse>
  /** Unpins a message (admins and the owner); idempotent. */
  unpinMessage: (caller: Caller, messageId: string) => Promise<UnpinMessageResponse>
  /** The group's pinned messages in pin order, with the pin in their metadata. */
  pinnedMessages: (caller: Caller) => Promise<PinnedMessagesResponse>
  /** Searches the group's live messages through the blind index; every query word and filter must match, blocked senders left out. */
  searchMessages: (caller: Caller, query: SearchMessagesRequest) => Promise<SearchMessagesResponse>
  /** chat:message events after `sinceSeq` (and after the caller's clear watermark) up to the group's latest seq, ascending; none when more than `limit` follow. */
  replaySince: (caller: Caller, sinceSeq: number, limit: number) => Promise<ReplayResult>
  /**
   * chat:message events with fromSeq < seq ≤ toSeq, ascending (at most 1,000), for filling gaps;
   * as `readerId` is shown them when given (a reader who cleared history: see eventsFor).
   */
  messageEventsBetween: (groupId: string, fromSeqExclusive: number, toSeqInclusive: number, readerId?: number) => Promise<ChatMessageEvent[]>
  /** Per group of the user: newest seq, unread count and the last read message. */
  syncState: (userId: number) => Promise<GroupSyncState[]>
  /** Moves the user's delivered watermark up to `seq`; never back. */
  markDelivered: (userId: number, groupId: string, seq: number) => Promise<void>
  /** Moves several users' delivered watermarks of one group up to `seq` in one write; never back. */
  markDeliveredMany: (groupId: string, userIds: readonly number[], seq: number) => Promise<void>
  /** The chat-list data of the user's groups: newest visible message and unread count. */
  chatSummaries: (userId: number, groupIds: string[]) => Promise<Map<string, ChatSummary>>
}

declare module 'fastify' {
  interface FastifyInstance {
    chatService: ChatService
  }
}

/** At most this many different reactions per user on one message. */
export const MAX_REACTIONS_PER_USER = 20
/** At most this many pinned messages per group. */
export const MAX_PINS_PER_GROUP = 100
/** chat:message_read lists at most this many of the messages a mark read (the newest ones). */
export const MAX_READ_MESSAGE_IDS = 100
/** Gap fills are small; a larger gap is a resync. */
export const MAX_EVENTS_BETWEEN = 1000
const PREVIEW_CHARACTERS = 100
const NONE_CLEARED: ReadonlySet<number> = new Set()
/** Mentioned users whose clear watermarks are looked up by key; more read the group's member rows. */
const MAX_NAMED_LOOKUPS = 500
const EDIT_ATTEMPTS = 3
const PIN_ATTEMPTS = 10
const EMOJI = /^[^\s\p{Cc}]+$/u

/** True when the text has min..max code points, as the JSON schemas count length. */
function lengthWithin (text: string, min: number, max: number): boolean {
  // UTF-16 units ≥ code points ≥ units / 2: most texts are decided without counting.
  if (text.length < min) return false
  if (text.length <= max && text.length >= min * 2) return true
  const count = [...text].length
  return count >= min && count <= max
}

function checkContent (content: unknown, field = 'content'): string {
  if (typeof content !== 'string' || !lengthWithin(content, 1, CHAT_LIMITS.contentMaxLength)) {
    throw invalid(field, `${field} must be 1-${CHAT_LIMITS.contentMaxLength} characters`)
  }
  return content
}

function checkEmoji (emoji: unknown): string {
  if (typeof emoji !== 'string' || !lengthWithin(emoji, 1, CHAT_LIMITS.emojiMaxLength) || !EMOJI.test(emoji)) {
    throw invalid('emoji', `emoji must be 1-${CHAT_LIMITS.emojiMaxLength} characters without spaces`)
  }
  return emoji
}

function messageBinOf (messageId: string, field = 'messageId'): Buffer {
  try {
    return toBin(messageId)
  } catch {
    throw invalid(field, `${field} must be a UUID`)
  }
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

/** The first characters of a text, whole code points. */
/**
 * Whether a message may notify anyone: it mentions someone other than its sender, @everyone,
 * or replies to someone else's message. Decided from the message alone: who is notified is the
 * notification worker's job, after the commit.
 */
function notifiesAnyone (senderId: number, metadata: MessageMetadata, parentSenderId: number | null): boolean {
  if (parentSenderId !== null && parentSenderId !== senderId) return true
  return (metadata.mentions ?? []).some((m) => m.type === 'everyone' || (m.type === 'user' && m.userId !== senderId))
}

function previewOf (text: string): string {
  const chars = [...text.slice(0, PREVIEW_CHARACTERS * 2)]
  return chars.length > PREVIEW_CHARACTERS ? chars.slice(0, PREVIEW_CHARACTERS).join('') : chars.join('')
}

export function createChatService (fastify: FastifyInstance): ChatService {
  const db = fastify.db
  const repo = chatRepository(db)
  const sendBatcher = createSendBatcher(fastify.statementPool, fastify.meter.sendsCommitted)
  const keyring = fastify.keyring
  const bus = fastify.bus
  const notificationJobs = fastify.notificationJobs
  const broadcastContent = fastify.config.ws.broadcastContent
  const spamCheck = fastify.spamCheck
  const attachments = fastify.attachmentService

  /** The attachments of the live messages among `rows`, by message id (hex). */
  async function attachmentsOf (rows: MessageView[]): Promise<Map<string, ChatAttachment[]>> {
    const live = rows.filter((row) => !row.is_deleted).map((row) => row.id)
    return live.length === 0 ? new Map() : await attachments.ofMessages(live)
  }
  const takeRateLimit = fastify.takeRateLimit
  const log = fastify.log

  /** chat:sync of connections admitted in the same turn: one query for all of them. */
  const syncRowsOf = tickBatch(async (userIds: number[]) => await repo.syncRowsOf(userIds), [])

  /** The group id as the bus and the keyring know it (lowercase), whatever the URL's spelling. */
  const groupIdOf = (caller: Caller): string => fromBin(caller.membership.groupIdBin)

  async function openMetadata (groupId: string, messageId: string, sealed: Buffer | null, keyVersion: number | null, field: string): Promise<MessageMetadata> {
    if (sealed === null || keyVersion === null) return {}
    return JSON.parse(await keyring.decrypt(groupId, { ciphertext: sealed, keyVersion }, { recordId: messageId, field })) as MessageMetadata
  }

  /** Decrypts a stored message; a deleted one is never decrypted. */
  async function open (row: MessageView): Promise<OpenedMessage> {
    if (row.is_deleted) return DELETED
    const groupId = fromBin(row.group_id)
    const messageId = fromBin(row.id)
    const [content, metadata] = await Promise.all([
      keyring.decrypt(groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: messageId, field: 'content' }),
      openMetadata(groupId, messageId, row.metadata, row.metadata_key_version, 'metadata')
    ])
    return { content, metadata }
  }

  /**
   * Stored messages of one group as the API shows them, with reactions and readers when asked
   * for. `status` is `delivered` once another member's delivered watermark reached the message
   * (seed 01 §6.1 MessageStatus), `sent` before.
   */
  async function present (rows: MessageView[], viewerId: number, include: { reactions: boolean, readBy: boolean }): Promise<ChatMessage[]> {
    if (rows.length === 0) return []
    const first = rows[0] as MessageView
    const parents = rows.flatMap((r) => r.parent_message_id === null ? [] : [r.parent_message_id])
    const [opened, reactionRows, watermarks, delivered, files, clearedParents] = await Promise.all([
      Promise.all(rows.map(open)),
      include.reactions ? repo.reactionsOf(rows.map((r) => r.id)) : Promise.resolve([]),
      include.readBy ? repo.readWatermarks(first.group_id) : Promise.resolve([]),
      repo.deliveredTops(first.group_id),
      attachmentsOf(rows),
      viewerId > 0 ? repo.clearedAmong(first.group_id, viewerId, parents) : Promise.resolve(new Set<string>())
    ])
    const reactions = include.reactions ? summarizeReactions(reactionRows, viewerId) : null
    return rows.map((row, i) => {
      const message = toChatMessage(row, opened[i] as OpenedMessage)
      message.attachments = files.get(row.id.toString('hex')) ?? []
      // A reply quoting a message cleared for the viewer does not bring its words back.
      if (row.parent_message_id !== null && clearedParents.has(row.parent_message_id.toString('hex')) && message.metadata?.replyPreview !== undefined) {
        const { replyPreview: _cleared, ...rest } = message.metadata
        message.metadata = rest
      }
      const deliveredTo = delivered.find((w) => w.user_id !== row.sender_user_id)
      if (deliveredTo !== undefined && deliveredTo.last_delivered_seq >= row.seq) message.status = 'delivered'
      if (reactions !== null) message.reactions = reactions.get(message.id) ?? []
      if (include.readBy) {
        message.readBy = watermarks
          .filter((w) => w.user_id !== row.sender_user_id && w.last_read_seq >= row.seq)
          .map((w) => w.user_id)
      }
      return message
    })
  }

  /** The message a retried send answers with: the one first stored under its clientMessageId. */
  async function originalOf (caller: Caller, messageBin: Buffer): Promise<ChatMessage> {
    const original = await repo.findInGroup(caller.membership.groupIdBin, messageBin)
    if (original === null) throw notFound('Message')
    const [message] = await present([original], caller.user.id, { reactions: true, readBy: false })
    return message as ChatMessage
  }

  async function findVisibleOrThrow (caller: Caller, messageId: string): Promise<MessageView> {
    const row = await repo.findVisible(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
    if (row === null) throw notFound('Message')
    return row
  }

  /** A message the caller is shown: visible to them and not from a sender they blocked. */
  async function findShownOrThrow (caller: Caller, messageId: string): Promise<MessageView> {
    const row = await repo.findShown(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
    if (row === null) throw notFound('Message')
    return row
  }

  async function reactionsOfMessage (messageBin: Buffer, viewerId: number): Promise<Array<Required<ReactionSummary>>> {
    return summarizeReactions(await repo.reactionsOf([messageBin]), viewerId).get(fromBin(messageBin)) ?? []
  }

  /** Members to notify of a message's mentions: mentioned members other than the sender; @everyone is every other member. */
  async function resolveMentions (caller: Caller, metadata: MessageMetadata): Promise<Map<number, 'user' | 'everyone'>> {
    const mentioned = new Map<number, 'user' | 'everyone'>()
    const mentions = metadata.mentions ?? []
    if (mentions.length === 0) return mentioned
    const groupBin = caller.membership.groupIdBin
    const named = [...new Set(mentions.filter((m) => m.type === 'user').map((m) => m.userId))].filter((id) => id !== caller.user.id)
    const everyone = mentions.some((m) => m.type === 'everyone')
    const [members, all] = await Promise.all([
      repo.membersAmong(groupBin, named),
      everyone ? repo.memberIds(groupBin) : Promise.resolve([])
    ])
    for (const id of all) if (id !== caller.user.id) mentioned.set(id, 'everyone')
    for (const id of members) mentioned.set(id, 'user')
    return mentioned
  }

  /**
   * chat:mention to each mentioned user. A reply whose quoted message (of seq `quotedSeq`) a
   * mentioned user cleared reaches them without its preview: a mention goes to all of a user's
   * sockets, subscribed to the group or not, so their watermark is read here (only for a reply
   * with a preview), not at the gateway.
   */
  async function publishMentions (groupBin: Buffer, groupId: string, message: ChatMessage, mentioned: Map<number, 'user' | 'everyone'>, quotedSeq: number | undefined): Promise<void> {
    let cleared: ReadonlySet<number> = NONE_CLEARED
    if (quotedSeq !== undefined) {
      // Named users are looked up by key; an @everyone mention reads the group's members once.
      const named = mentioned.size <= MAX_NAMED_LOOKUPS ? [...mentioned.keys()] : undefined
      cleared = await repo.clearedPast(groupBin, quotedSeq, named).catch((err: unknown) => {
        // The message is committed and must be announced: with no watermarks to go by, no
        // mention shows the preview rather than one showing a cleared message.
        log.warn({ err }, 'clear watermarks unavailable; mentions sent without the reply preview')
        return new Set(mentioned.keys())
      })
    }
    let withoutPreview: ChatMessage | null = null
    for (const [userId, mentionType] of mentioned) {
      let shown = message
      if (cleared.has(userId)) {
        withoutPreview ??= withoutReplyPreview(message)
        shown = withoutPreview
      }
      bus.publish({ userId }, { type: 'chat:mention', payload: { message: shown, groupId, mentionType } })
    }
  }

  /** Soft-deletes a stored message and tells its group (once: a concurrent delete finds nothing to do). */
  async function softDelete (row: MessageView, deletedBy: number): Promise<void> {
    const groupId = fromBin(row.group_id)
    const groupBin = row.group_id
    // A record that no longer decrypts can still be deleted; its tokens cannot be recomputed,
    // and search never returns a deleted message anyway.
    const content = await open(row).then((opened) => opened.content, (err: unknown) => {
      if (err instanceof DecryptionError) return ''
      throw err
    })
    const deleted = await db.transaction().execute(async (trx) => {
      // The sealed content stays in the row for compliance; it is never served again and
      // no longer searchable.
      if (!await repo.softDelete(groupBin, row.id, deletedBy, new Date(), trx)) return false
      await repo.deleteSearchTokens(groupBin, row.id, keyring.indexTokens(groupId, content), trx)
      await repo.deletePin(groupBin, row.id, trx)
      return true
    })
    if (deleted) bus.publish({ groupId }, { type: 'chat:message_deleted', payload: { messageId: fromBin(row.id), groupId, deletedBy } })
  }

  async function eventOf (row: MessageView, files: Map<string, ChatAttachment[]>): Promise<ChatMessageEvent> {
    const groupId = fromBin(row.group_id)
    const messageId = fromBin(row.id)
    const opened: OpenedMessage = row.is_deleted
      ? DELETED
      : broadcastContent
        ? await open(row)
        : { content: '', metadata: await openMetadata(groupId, messageId, row.metadata, row.metadata_key_version, 'metadata') }
    const message = toChatMessage(row, opened)
    message.attachments = files.get(row.id.toString('hex')) ?? []
    return toMessageEvent(message, row.seq, broadcastContent)
  }

  /** chat:message events of stored rows, their attachments read in one query. */
  async function eventsOf (rows: MessageView[]): Promise<ChatMessageEvent[]> {
    const files = await attachmentsOf(rows)
    return await Promise.all(rows.map(async (row) => await eventOf(row, files)))
  }

  /** chat:message events of stored rows as one reader is shown them: a reply quoting a message cleared for them has no preview. */
  async function eventsFor (groupBin: Buffer, readerId: number, rows: MessageView[]): Promise<ChatMessageEvent[]> {
    const parents = rows.flatMap((r) => r.parent_message_id === null ? [] : [r.parent_message_id])
    const [events, clearedParents] = await Promise.all([eventsOf(rows), repo.clearedAmong(groupBin, readerId, parents)])
    return events.map((event, i) => {
      const parentBin = (rows[i] as MessageView).parent_message_id
      if (parentBin === null || !clearedParents.has(parentBin.toString('hex')) || event.payload.metadata.replyPreview === undefined) return event
      // A reply quoting a message cleared for the reader does not bring its words back.
      const { replyPreview: _cleared, ...metadata } = event.payload.metadata
      return { ...event, payload: { ...event.payload, metadata } }
    })
  }

  const service: ChatService = {
    async sendMessage (caller, input, published, origin) {
      const { user, membership } = caller
      const groupId = groupIdOf(caller)
      const groupBin = membership.groupIdBin
      const content = checkContent(input.content)
      const contentType = input.contentType ?? 'text'
      const adminOnly = membership.groupType === 'broadcast'
        ? 'Only admins and the owner can post in a broadcast group'
        : contentType === 'system' ? 'Only admins and the owner can post system messages' : null
      if (adminOnly !== null && !hasRole(membership.role, 'admin')) throw forbidden(adminOnly)
      const clientMessageId = input.clientMessageId ?? null
      if (clientMessageId !== null && (typeof clientMessageId !== 'string' || clientMessageId.length < 1 || clientMessageId.length > CHAT_LIMITS.clientMessageIdMaxLength)) {
        throw invalid('clientMessageId', `clientMessageId must be 1-${CHAT_LIMITS.clientMessageIdMaxLength} characters`)
      }
      const metadata = origin?.forwardedFrom === undefined
        ? checkMetadata(content, input.metadata)
        : { ...checkMetadata(content, input.metadata), forwardedFrom: origin.forwardedFrom }
      const attachmentBins = attachmentBinsOf(input.attachmentIds)
      const id = newId()
      const idBin = toBin(id)

      // Everything that needs no lock happens before the transaction opens: checks, sealing,
      // tokenizing, resolving mentions. The transaction itself is a handful of writes.
      const [blocked, parent, mentioned, sealedContent, sealedMetadata] = await Promise.all([
        membership.groupType === 'direct' ? repo.blockedWithinGroup(groupBin, user.id) : Promise.resolve(false),
        input.parentMessageId !== undefined
          ? repo.findVisible(groupBin, messageBinOf(input.parentMessageId, 'parentMessageId'), user.id)
          : Promise.resolve(null),
        resolveMentions(caller, metadata),
        keyring.encrypt(groupId, content, { recordId: id, field: 'content' }),
        isEmptyMetadata(metadata) ? Promise.resolve(null) : keyring.encrypt(groupId, JSON.stringify(metadata), { recordId: id, field: 'metadata' })
      ])
      if (blocked) throw forbidden('You cannot send messages in this chat')
      if (input.parentMessageId !== undefined && parent === null) {
        throw invalid('parentMessageId', 'parentMessageId must be a message of this group')
      }
      // Last of the checks, so a send refused for another reason does not count for the
      // duplicate rule. A retry of a stored clientMessageId is answered with the original
      // whatever the rules say of it now (its text may repeat another message's).
      try {
        await spamCheck({ groupId, senderId: user.id, content, clientMessageId })
      } catch (err) {
        const original = clientMessageId === null ? null : await repo.findByClientMessageId(groupBin, user.id, clientMessageId)
        if (original === null) throw err
        return { message: await originalOf(caller, original.id), created: false }
      }
      const tokens = keyring.indexTokens(groupId, content)
      const parentBin = parent?.id ?? null
      const rootBin = parent === null ? null : parent.thread_root_id ?? parent.id
      const now = new Date()

      const stored = {
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
      const outcome = await sendBatcher.commit({
        row: stored,
        tokens,
        mentions: [...mentioned].map(([mentionedUserId, type]) => ({ mentionedUserId, type })),
        threadRootBin: rootBin,
        adminOnly,
        attachmentBins,
        notifies
      })
      if (!outcome.stored) return { message: await originalOf(caller, outcome.originalId), created: false }
      const { seq } = outcome
      if (notifies) notificationJobs.recorded()

      // The row as committed, with the defaults the table filled in: nothing to read back.
      const row: MessageView = {
        ...stored,
        seq,
        sender_username: user.username,
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
      const message = toChatMessage(row, { content, metadata })
      message.reactions = []
      // Claimed in the send's own commit: what the message carries now is what it will always carry.
      if (attachmentBins.length > 0) message.attachments = (await attachments.ofMessages([idBin])).get(idBin.toString('hex')) ?? []
      // A reply's preview quotes its parent: receivers who cleared the parent are sent the
      // event without it (realtime/cleared-history.ts), told the parent's seq out of band.
      const quoted = parent !== null && metadata.replyPreview !== undefined ? parent.seq : undefined
      bus.publish({ groupId }, toMessageEvent(message, seq, broadcastContent), quoted === undefined ? published : { ...published, parentSeq: quoted })
      if (mentioned.size > 0) await publishMentions(groupBin, groupId, message, mentioned, quoted)
      return { message, created: true }
    },

    async listMessages (caller, query) {
      const groupBin = caller.membership.groupIdBin
      const limit = Math.min(Math.max(query.limit ?? CHAT_LIMITS.pageDefaultLimit, 1), CHAT_LIMITS.pageMaxLimit)
      if (query.before !== undefined && query.after !== undefined) throw invalid('before', 'before and after cannot be used together')
      const cursorField = query.before !== undefined ? 'before' : query.after !== undefined ? 'after' : null
      let cursorSeq: number | undefined
      if (cursorField !== null) {
        const cursor = query[cursorField] as string
        const seq = await repo.seqOf(groupBin, messageBinOf(cursor, cursorField))
        if (seq === null) throw invalid(cursorField, `${cursorField} must be the id of a message in this group`)
        cursorSeq = seq
      }
      const rows = await repo.page({
        groupBin,
        userId: caller.user.id,
        limit,
        ...(cursorField === 'before' ? { beforeSeq: cursorSeq } : {}),
        ...(cursorField === 'after' ? { afterSeq: cursorSeq } : {}),
        ...(query.threadRootId !== undefined ? { threadRootBin: messageBinOf(query.threadRootId, 'threadRootId') } : {})
      })
      const hasMore = rows.length > limit
      const batch = rows.slice(0, limit)
      // After-paging reads upwards from the cursor, so the page follows it with no gap; the page
      // is still served newest first, and a seed 01 client pages on with `after=messages[0].id`.
      if (cursorField === 'after') batch.reverse()
      const messages = await present(batch, caller.user.id, { reactions: query.includeReactions === true, readBy: query.includeReadBy === true })
      // Seed 01 §4.2.2: nextCursor is the oldest message of the page, whichever the direction.
      return { messages, hasMore, nextCursor: messages[messages.length - 1]?.id ?? null }
    },

    async forwardMessage (caller, messageId, input, callerIn) {
      return await forwardMessage({
        findShown: findShownOrThrow,
        open,
        sendMessage: service.sendMessage,
        addForwards: repo.addForwards,
        takeSendToken: async (userId) => { await takeRateLimit('send', userId) },
        onUnexpectedError: (err) => { log.error({ err }, 'forward to a target failed') }
      }, caller, messageId, input, callerIn)
    },

    async editHistory (caller, messageId) {
      return await editHistory({ findShown: findShownOrThrow, editsOf: repo.editsOf, keyring }, caller, messageId)
    },

    async searchAcrossGroups (user, query) {
      return await searchAcrossGroups({
        repo,
        keyring,
        present: async (rows, viewerId) => await present(rows, viewerId, { reactions: false, readBy: false })
      }, user, query)
    },

    async getMessage (caller, messageId) {
      const row = await findShownOrThrow(caller, messageId)
      const [message] = await present([row], caller.user.id, { reactions: true, readBy: true })
      return message as ChatMessage
    },

    async editMessage (caller, messageId, input) {
      const groupId = groupIdOf(caller)
      const groupBin = caller.membership.groupIdBin
      const content = checkContent(input.content)
      for (let attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
        const row = await findVisibleOrThrow(caller, messageId)
        if (row.is_deleted) throw notFound('Message')
        if (row.sender_user_id !== caller.user.id) throw forbidden('You can only edit your own messages')
        const id = fromBin(row.id)
        const old = await open(row)
        const metadata = input.metadata !== undefined ? checkMetadata(content, input.metadata) : metadataForEditedContent(old.metadata, content)
        const version = row.edit_count + 1
        const [oldContent, oldMetadata, newContent, newMetadata] = await Promise.all([
          keyring.encrypt(groupId, old.content, { recordId: id, field: `edit:${version}` }),
          isEmptyMetadata(old.metadata) ? Promise.resolve(null) : keyring.encrypt(groupId, JSON.stringify(old.metadata), { recordId: id, field: `edit-metadata:${version}` }),
          keyring.encrypt(groupId, content, { recordId: id, field: 'content' }),
          isEmptyMetadata(metadata) ? Promise.resolve(null) : keyring.encrypt(groupId, JSON.stringify(metadata), { recordId: id, field: 'metadata' })
        ])
        const tokens = keyring.indexTokens(groupId, content)
        const now = new Date()
        const replaced = await db.transaction().execute(async (trx) => {
          const changed = await repo.replaceContent(groupBin, row.id, row.edit_count, {
            content: newContent.ciphertext,
            content_key_version: newContent.keyVersion,
            metadata: newMetadata?.ciphertext ?? null,
            metadata_key_version: newMetadata?.keyVersion ?? null
          }, now, trx)
          if (!changed) return false
          await repo.insertEdit({
            message_id: row.id,
            version,
            content: oldContent.ciphertext,
            content_key_version: oldContent.keyVersion,
            metadata: oldMetadata?.ciphertext ?? null,
            metadata_key_version: oldMetadata?.keyVersion ?? null,
            written_at: row.edited_at ?? row.created_at,
            replaced_at: now,
            replaced_by: caller.user.id
          }, trx)
          await repo.deleteSearchTokens(groupBin, row.id, keyring.indexTokens(groupId, old.content), trx)
          await repo.insertSearchTokens(groupBin, row.id, tokens, trx)
          return true
        })
        if (!replaced) continue
        const payload: MessageEditedEvent['payload'] = { messageId: id, groupId, editedAt: now.toISOString(), senderUserId: row.sender_user_id }
        if (broadcastContent) payload.content = content
        bus.publish({ groupId }, { type: 'chat:message_edited', payload })
        return await service.getMessage(caller, id)
      }
      throw new AppError('CONFLICT', 'The message changed while it was being edited; try again')
    },

    async deleteMessage (caller, messageId) {
      const row = await findVisibleOrThrow(caller, messageId)
      const id = fromBin(row.id)
      if (row.sender_user_id !== caller.user.id && !hasRole(caller.membership.role, 'admin')) {
        throw forbidden('Only the sender or a group admin can delete this message')
      }
      if (!row.is_deleted) await softDelete(row, caller.user.id)
      return { deleted: true, messageId: id }
    },

    async messageForModeration (groupId, messageId) {
      const row = await repo.findInGroup(toBin(groupId), messageBinOf(messageId))
      if (row === null) return null
      const [message] = await present([row], 0, { reactions: false, readBy: false })
      return message ?? null
    },

    async deleteForModeration (groupId, messageId, moderatorId) {
      const row = await repo.findInGroup(toBin(groupId), messageBinOf(messageId))
      if (row === null) throw notFound('Message')
      if (!row.is_deleted) await softDelete(row, moderatorId)
      return { deleted: true, messageId: fromBin(row.id) }
    },

    async addReaction (caller, messageId, emoji) {
      const groupId = groupIdOf(caller)
      const checked = checkEmoji(emoji)
      const row = await findVisibleOrThrow(caller, messageId)
      if (row.is_deleted) throw notFound('Message')
      const count = await repo.userReactionCount(row.id, caller.user.id)
      let added = false
      if (count < MAX_REACTIONS_PER_USER) {
        const toOthersMessage = row.sender_user_id !== caller.user.id
        added = await db.transaction().execute(async (trx) => {
          const inserted = await repo.addReaction(caller.membership.groupIdBin, row.id, caller.user.id, checked, trx)
          if (inserted && toOthersMessage) {
            await recordJobs(trx, [{ kind: 'reaction', group_id: row.group_id, message_id: row.id, actor_user_id: caller.user.id, target_user_id: row.sender_user_id, emoji: checked }])
          }
          return inserted
        })
        if (added && toOthersMessage) notificationJobs.recorded()
      }
      const reactions = await reactionsOfMessage(row.id, caller.user.id)
      if (!added && count >= MAX_REACTIONS_PER_USER && reactions.find((r) => r.emoji === checked)?.hasReacted !== true) {
        throw invalid('emoji', `A user can add at most ${MAX_REACTIONS_PER_USER} different reactions to a message`)
      }
      if (added) bus.publish({ groupId }, { type: 'chat:reactions_updated', payload: { messageId: fromBin(row.id), groupId, reactions } })
      return reactions
    },

    async removeReaction (caller, messageId, emoji) {
      const groupId = groupIdOf(caller)
      const checked = checkEmoji(emoji)
      const row = await findVisibleOrThrow(caller, messageId)
      const removed = await repo.removeReaction(row.id, caller.user.id, checked)
      const reactions = await reactionsOfMessage(row.id, caller.user.id)
      if (removed) bus.publish({ groupId }, { type: 'chat:reactions_updated', payload: { messageId: fromBin(row.id), groupId, reactions } })
      return reactions
    },

    async listReactions (caller, messageId) {
      const row = await findVisibleOrThrow(caller, messageId)
      return await reactionsOfMessage(row.id, caller.user.id)
    },

    async markRead (caller, messageId) {
      const groupId = groupIdOf(caller)
      const groupBin = caller.membership.groupIdBin
      const messageBin = messageBinOf(messageId)
      const seq = await repo.seqOf(groupBin, messageBin)
      if (seq === null) throw notFound('Message')
      const id = fromBin(messageBin)
      const readAt = new Date()
      const readAfter = await repo.markReadUpTo(groupBin, caller.user.id, seq, readAt)
      if (readAfter !== null) {
        // The messages this mark newly read, the newest of them when there are many, and the
        // watermark's own message last.
        const earlier = await repo.readableIdsBetween(groupBin, caller.user.id, readAfter, seq, MAX_READ_MESSAGE_IDS - 1)
        const messageIds = [...earlier.map((bin) => fromBin(bin)), id]
        bus.publish({ groupId }, { type: 'chat:message_read', payload: { messageIds, groupId, userId: caller.user.id, readAt: readAt.toISOString() } })
        const unreadCount = await repo.unreadCount(groupBin, caller.user.id)
        bus.publish({ userId: caller.user.id }, { type: 'chat:unread_count', payload: { groupId, unreadCount } })
      } else if (await repo.clearMarkedUnread(groupBin, caller.user.id)) {
        // Nothing newly read, but a chat marked unread by hand is read now.
        bus.publish({ userId: caller.user.id }, { type: 'chat:unread_count', payload: { groupId, unreadCount: await repo.unreadCount(groupBin, caller.user.id) } })
      }
      return { marked: true, upToMessageId: id }
    },

    async unreadCount (caller) {
      return { groupId: groupIdOf(caller), unreadCount: await repo.unreadCount(caller.membership.groupIdBin, caller.user.id) }
    },

    async pinMessage (caller, messageId, note) {
      requireRole(caller.membership, 'admin', 'pin messages')
      const groupId = groupIdOf(caller)
      const groupBin = caller.membership.groupIdBin
      if (note !== undefined && (typeof note !== 'string' || note.length > CHAT_LIMITS.pinNoteMaxLength)) {
        throw invalid('note', `note must be at most ${CHAT_LIMITS.pinNoteMaxLength} characters`)
      }
      const row = await findVisibleOrThrow(caller, messageId)
      if (row.is_deleted) throw notFound('Message')
      const id = fromBin(row.id)
      const pinNote = note ?? null
      const pinnedAt = new Date()
      for (let attempt = 0; ; attempt++) {
        try {
          await db.transaction().execute(async (trx) => {
            const state = await repo.pinState(groupBin, row.id, trx)
            if (state.pinned) {
              await repo.updatePinNote(groupBin, row.id, pinNote, trx)
              return
            }
            if (state.count >= MAX_PINS_PER_GROUP) throw new AppError('CONFLICT', `A group can pin at most ${MAX_PINS_PER_GROUP} messages`)
            await repo.insertPin({ message_id: row.id, group_id: groupBin, pinned_by_user_id: caller.user.id, pin_order: state.maxOrder + 1, pin_note: pinNote, pinned_at: pinnedAt }, trx)
          })
          break
        } catch (err) {
          // Two pins raced for the same place (or the same message): take the next one.
          if ((duplicateKeyOf(err) === null && !isDeadlock(err)) || attempt + 1 >= PIN_ATTEMPTS) throw err
        }
      }
      bus.publish({ groupId }, { type: 'chat:message_pinned', payload: { messageId: id, groupId, pinnedBy: caller.user.id, pinNote, pinnedAt: pinnedAt.toISOString() } })
      return { pinned: true, messageId: id }
    },

    async unpinMessage (caller, messageId) {
      requireRole(caller.membership, 'admin', 'unpin messages')
      const groupId = groupIdOf(caller)
      const row = await findVisibleOrThrow(caller, messageId)
      const id = fromBin(row.id)
      if (await repo.deletePin(caller.membership.groupIdBin, row.id)) {
        bus.publish({ groupId }, { type: 'chat:message_unpinned', payload: { messageId: id, groupId, unpinnedBy: caller.user.id } })
      }
      return { unpinned: true, messageId: id }
    },

    async pinnedMessages (caller) {
      const rows = await repo.pinned(caller.membership.groupIdBin, caller.user.id, MAX_PINS_PER_GROUP)
      const messages = await present(rows, caller.user.id, { reactions: true, readBy: false })
      const pinnedMessages = messages.map((message, i) => {
        const pin = rows[i] as (typeof rows)[number]
        message.metadata = { ...message.metadata, pinNote: pin.pin_note, pinnedAt: pin.pinned_at.toISOString(), pinnedBy: pin.pinned_by_user_id }
        return message
      })
      return { pinnedMessages, count: pinnedMessages.length }
    },

    async searchMessages (caller, query) {
      const q = query.q
      if (typeof q !== 'string' || !lengthWithin(q, CHAT_LIMITS.searchQueryMinLength, CHAT_LIMITS.searchQueryMaxLength)) {
        throw invalid('q', `q must be ${CHAT_LIMITS.searchQueryMinLength}-${CHAT_LIMITS.searchQueryMaxLength} characters`)
      }
      const limit = Math.min(Math.max(query.limit ?? CHAT_LIMITS.searchDefaultLimit, 1), CHAT_LIMITS.searchMaxLimit)
      const offset = Math.min(Math.max(query.offset ?? 0, 0), CHAT_LIMITS.searchMaxOffset)
      const filters = searchFiltersOf(query)
      const tokens = keyring.queryTokens(groupIdOf(caller), q)
      if (tokens.length === 0) return { messages: [], query: q, count: 0 }
      const { rows, total } = await repo.search(caller.membership.groupIdBin, caller.user.id, tokens, filters, limit, offset)
      const messages = await present(rows, caller.user.id, { reactions: false, readBy: false })
      return { messages, query: q, count: total }
    },

    async replaySince (caller, sinceSeq, limit) {
      const groupBin = caller.membership.groupIdBin
      const position = await repo.groupPosition(groupBin, caller.user.id)
      if (position === null) throw forbidden('You are not a member of this group')
      const bound = Math.max(0, Math.floor(limit))
      const after = Math.max(sinceSeq, position.cleared_seq)
      const latestSeq = position.last_seq
      const clearedSeq = position.cleared_seq
      // Seqs are gap-free and every seq keeps its row (a deleted message replays as deleted), so
      // latestSeq − after is exactly how many messages follow: a replay past the limit is known
      // before any row is read, and reads no row it would not send.
      const pending = Math.max(0, latestSeq - after)
      if (pending > bound) return { events: [], latestSeq, clearedSeq, truncated: true }
      if (pending === 0) return { events: [], latestSeq, clearedSeq, truncated: false }
      const rows = await repo.range(groupBin, after, latestSeq, pending)
      return { events: await eventsFor(groupBin, caller.user.id, rows), latestSeq, clearedSeq, truncated: false }
    },

    async messageEventsBetween (groupId, fromSeqExclusive, toSeqInclusive, readerId) {
      if (toSeqInclusive <= fromSeqExclusive) return []
      const groupBin = toBin(groupId)
      const rows = await repo.range(groupBin, fromSeqExclusive, toSeqInclusive, Math.min(toSeqInclusive - fromSeqExclusive, MAX_EVENTS_BETWEEN))
      return readerId === undefined ? await eventsOf(rows) : await eventsFor(groupBin, readerId, rows)
    },

    async syncState (userId) {
      const rows = await syncRowsOf(userId)
      return rows.map((row) => ({
        groupId: fromBin(row.group_id),
        latestSeq: row.last_seq,
        unreadCount: Number(row.unread ?? 0),
        lastReadMessageId: row.last_read_id === null ? null : fromBin(row.last_read_id)
      }))
    },

    async markDelivered (userId, groupId, seq) {
      await repo.markDeliveredUpTo(toBin(groupId), userId, seq)
    },

    async markDeliveredMany (groupId, userIds, seq) {
      await repo.markDeliveredUpToMany(toBin(groupId), userIds, seq)
    },

    async chatSummaries (userId, groupIds) {
      const rows = await repo.summaries(userId, groupIds.map((id) => toBin(id)))
      const result = new Map<string, ChatSummary>()
      await Promise.all(rows.map(async (row) => {
        const groupId = fromBin(row.group_id)
        let lastMessage: LastMessagePreview | null = null
        if (row.id !== null && row.seq !== null && row.created_at !== null && row.sender_user_id !== null && row.content_type !== null) {
          let preview: string | null = null
          if (row.is_deleted !== true && row.content !== null && row.content_key_version !== null) {
            const content = await keyring.decrypt(groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: fromBin(row.id), field: 'content' })
            preview = previewOf(content)
          }
          lastMessage = {
            id: fromBin(row.id),
            senderUserId: row.sender_user_id,
            senderUsername: row.sender_username ?? '',
            contentType: row.content_type,
            preview,
            createdAt: row.created_at.toISOString(),
            seq: row.seq
          }
        }
        result.set(groupId, { lastMessage, unreadCount: Number(row.unread ?? 0) })
      }))
      return result
    }
  }
  return service
}

/** Decorates the app with the chat service (fastify.chatService). */
export default fp(async function chatServicePlugin (fastify) {
  fastify.decorate('chatService', createChatService(fastify))
}, { name: 'chat-service', dependencies: ['db', 'bus', 'crypto', 'metrics', 'spam-check', 'rate-limit', 'attachment-service', 'notification-jobs'] })
