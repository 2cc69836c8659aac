import { CHAT_LIMITS, type ChatAttachment, type ChatMessage, type GetMessagesRequest, type GetMessagesResponse } from '../../../schemas/chat.ts'
import type { ChatMessageEvent } from '../../../schemas/events.ts'
import { forbidden, invalid } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import { messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { DELETED, toChatMessage, toMessageEvent, type OpenedMessage } from './message-mapper.ts'
import { attachmentsOf, findShownOrThrow, open, openMetadata, present, presentPage } from './present.ts'
import type { MessageView } from './repository.ts'
import type { Caller } from '../membership/guard.ts'
import type { GroupSyncState, ReplayResult } from './service.ts'

/*
 * Reading the past: pages of history and single messages over REST; chat:message events for a
 * WebSocket's replay and gap fills; each group's position for chat:sync.
 */

/** Gap fills are small; a larger gap is a resync. */
export const MAX_EVENTS_BETWEEN = 1000

/** A page of history, newest first (see GetMessagesResponse for the cursors); senders the caller blocked are left out. */
export async function listMessages (deps: ChatDeps, caller: Caller, query: GetMessagesRequest): Promise<GetMessagesResponse> {
  const groupBin = caller.membership.groupIdBin
  const limit = Math.min(Math.max(query.limit ?? CHAT_LIMITS.pageDefaultLimit, 1), CHAT_LIMITS.pageMaxLimit)
  if (query.before !== undefined && query.after !== undefined) throw invalid('before', 'before and after cannot be used together')
  const cursorField = query.before !== undefined ? 'before' : query.after !== undefined ? 'after' : null
  let cursorSeq: number | undefined
  if (cursorField !== null) {
    const cursor = query[cursorField] as string
    const seq = await deps.repo.seqOf(groupBin, messageBinOf(cursor, cursorField))
    if (seq === null) throw invalid(cursorField, `${cursorField} must be the id of a message in this group`)
    cursorSeq = seq
  }
  const rows = await deps.repo.page({
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
  const messages = await presentPage(deps, batch, caller.user.id, { reactions: query.includeReactions === true, readBy: query.includeReadBy === true })
  // Seed 01 §4.2.2: nextCursor is the oldest message of the page, whichever the direction.
  return { messages, hasMore, nextCursor: messages[messages.length - 1]?.id ?? null }
}

/** One message with its reactions and readers. */
export async function getMessage (deps: ChatDeps, caller: Caller, messageId: string): Promise<ChatMessage> {
  const row = await findShownOrThrow(deps, caller, messageId)
  const [message] = await present(deps, [row], caller.user.id, { reactions: true, readBy: true })
  return message as ChatMessage
}

async function eventOf (deps: ChatDeps, row: MessageView, files: ReadonlyMap<string, ChatAttachment[]>): Promise<ChatMessageEvent> {
  const broadcastContent = deps.config.broadcastContent
  const groupId = fromBin(row.group_id)
  const messageId = fromBin(row.id)
  const opened: OpenedMessage = row.is_deleted
    ? DELETED
    : broadcastContent
      ? await open(deps, row)
      : { content: '', metadata: await openMetadata(deps, groupId, messageId, row.metadata, row.metadata_key_version, 'metadata') }
  const message = toChatMessage(row, opened)
  message.attachments = files.get(row.id.toString('hex')) ?? []
  return toMessageEvent(message, row.seq, broadcastContent)
}

/** chat:message events of stored rows, their attachments read in one query. */
async function eventsOf (deps: ChatDeps, rows: MessageView[]): Promise<ChatMessageEvent[]> {
  const files = await attachmentsOf(deps, rows)
  return await Promise.all(rows.map(async (row) => await eventOf(deps, row, files)))
}

/** chat:message events of stored rows as one reader is shown them: a reply quoting a message cleared for them has no preview. */
async function eventsFor (deps: ChatDeps, groupBin: Buffer, readerId: number, rows: MessageView[]): Promise<ChatMessageEvent[]> {
  const parents = rows.flatMap((r) => r.parent_message_id === null ? [] : [r.parent_message_id])
  const [events, clearedParents] = await Promise.all([eventsOf(deps, rows), deps.repo.clearedAmong(groupBin, readerId, parents)])
  return events.map((event, i) => {
    const parentBin = (rows[i] as MessageView).parent_message_id
    if (parentBin === null || !clearedParents.has(parentBin.toString('hex')) || event.payload.metadata.replyPreview === undefined) return event
    // A reply quoting a message cleared for the reader does not bring its words back.
    const { replyPreview: _cleared, ...metadata } = event.payload.metadata
    return { ...event, payload: { ...event.payload, metadata } }
  })
}

/** chat:message events after `sinceSeq` (and after the caller's clear watermark) up to the group's latest seq, ascending; none when more than `limit` follow. */
export async function replaySince (deps: ChatDeps, caller: Caller, sinceSeq: number, limit: number): Promise<ReplayResult> {
  const groupBin = caller.membership.groupIdBin
  const position = await deps.repo.groupPosition(groupBin, caller.user.id)
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
  const rows = await deps.repo.range(groupBin, after, latestSeq, pending)
  return { events: await eventsFor(deps, groupBin, caller.user.id, rows), latestSeq, clearedSeq, truncated: false }
}

/**
 * chat:message events with fromSeq < seq ≤ toSeq, ascending (at most MAX_EVENTS_BETWEEN), for
 * filling gaps; as `readerId` is shown them when given (a reader who cleared history).
 */
export async function messageEventsBetween (deps: ChatDeps, groupId: string, fromSeqExclusive: number, toSeqInclusive: number, readerId?: number): Promise<ChatMessageEvent[]> {
  if (toSeqInclusive <= fromSeqExclusive) return []
  const groupBin = toBin(groupId)
  const rows = await deps.repo.range(groupBin, fromSeqExclusive, toSeqInclusive, Math.min(toSeqInclusive - fromSeqExclusive, MAX_EVENTS_BETWEEN))
  return readerId === undefined ? await eventsOf(deps, rows) : await eventsFor(deps, groupBin, readerId, rows)
}

/** Per group of the user: newest seq, unread count and the last read message. */
export async function syncState (deps: ChatDeps, userId: number): Promise<GroupSyncState[]> {
  const rows = await deps.syncRowsOf(userId)
  return rows.map((row) => ({
    groupId: fromBin(row.group_id),
    latestSeq: row.last_seq,
    unreadCount: Number(row.unread ?? 0),
    lastReadMessageId: row.last_read_id === null ? null : fromBin(row.last_read_id)
  }))
}
