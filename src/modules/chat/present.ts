import type { ChatAttachment, ChatMessage, MessageMetadata, ReactionSummary } from '../../../schemas/chat.ts'
import { notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import type { SealContext, Sealed } from '../../lib/keyring.ts'
import { messageBinOf } from './checks.ts'
import type { ChatDeps } from './deps.ts'
import { DELETED, summarizeReactions, toChatMessage, type OpenedMessage } from './message-mapper.ts'
import type { MessageView, PageRow } from './repository.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Stored messages as a caller finds and is shown them: found (visible, or shown), opened
 * (decrypted) and presented with their attachments, reactions, readers and status.
 */

export async function openMetadata (deps: ChatDeps, groupId: string, messageId: string, sealed: Buffer | null, keyVersion: number | null, field: string): Promise<MessageMetadata> {
  if (sealed === null || keyVersion === null) return {}
  return JSON.parse(await deps.keyring.decrypt(groupId, { ciphertext: sealed, keyVersion }, { recordId: messageId, field })) as MessageMetadata
}

/** Decrypts a stored message; a deleted one is never decrypted. */
export async function open (deps: ChatDeps, row: MessageView): Promise<OpenedMessage> {
  if (row.is_deleted) return DELETED
  const groupId = fromBin(row.group_id)
  const messageId = fromBin(row.id)
  const [content, metadata] = await Promise.all([
    deps.keyring.decrypt(groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: messageId, field: 'content' }),
    openMetadata(deps, groupId, messageId, row.metadata, row.metadata_key_version, 'metadata')
  ])
  return { content, metadata }
}

/**
 * Decrypts stored messages of one group (`messageIds[i]` is the id of `rows[i]`) with one call
 * to the keyring; deleted ones are never decrypted.
 */
async function openAll (deps: ChatDeps, groupId: string, rows: readonly MessageView[], messageIds: readonly string[]): Promise<OpenedMessage[]> {
  const records: Array<{ sealed: Sealed, context: SealContext }> = []
  rows.forEach((row, i) => {
    if (row.is_deleted) return
    const recordId = messageIds[i] as string
    records.push({ sealed: { ciphertext: row.content, keyVersion: row.content_key_version }, context: { recordId, field: 'content' } })
    if (row.metadata !== null && row.metadata_key_version !== null) {
      records.push({ sealed: { ciphertext: row.metadata, keyVersion: row.metadata_key_version }, context: { recordId, field: 'metadata' } })
    }
  })
  const texts = records.length === 0 ? [] : await deps.keyring.decryptAll(groupId, records)
  let next = 0
  return rows.map((row) => {
    if (row.is_deleted) return DELETED
    const content = texts[next++] as string
    const metadata = row.metadata !== null && row.metadata_key_version !== null ? JSON.parse(texts[next++] as string) as MessageMetadata : {}
    return { content, metadata }
  })
}

const NO_ATTACHMENTS: ReadonlyMap<string, ChatAttachment[]> = new Map()

/** The attachments of the live messages among `rows`, by message id (hex). */
export async function attachmentsOf (deps: ChatDeps, rows: MessageView[]): Promise<ReadonlyMap<string, ChatAttachment[]>> {
  const live = rows.filter((row) => !row.is_deleted).map((row) => row.id)
  return live.length === 0 ? NO_ATTACHMENTS : await deps.attachments.ofMessages(live)
}

/** Per row, what present() shows besides the message itself. */
interface RowFacts {
  /** Another member's delivered watermark reached it. */
  delivered: boolean
  /** It quotes a message cleared for the viewer. */
  parentCleared: boolean
}

interface Include { reactions: boolean, readBy: boolean }

/** Everything rows of one group are shown with, besides their facts; read concurrently. */
interface Shown {
  groupId: string
  messageIds: string[]
  opened: OpenedMessage[]
  reactions: Map<string, Array<Required<ReactionSummary>>> | null
  watermarks: Array<{ user_id: number, last_read_seq: number }>
}

/** Opens one group's rows and reads their reactions and readers when asked for, alongside `also`. */
async function withShown<T> (deps: ChatDeps, rows: readonly MessageView[], viewerId: number, include: Include, also: Promise<T>): Promise<[Shown, T]> {
  const groupBin = (rows[0] as MessageView).group_id
  const groupId = fromBin(groupBin)
  const messageIds = rows.map((row) => fromBin(row.id))
  const [opened, reactionRows, watermarks, other] = await Promise.all([
    openAll(deps, groupId, rows, messageIds),
    include.reactions ? deps.repo.reactionsOf(rows.map((r) => r.id)) : Promise.resolve(null),
    include.readBy ? deps.repo.readWatermarks(groupBin) : Promise.resolve([]),
    also
  ])
  return [{ groupId, messageIds, opened, reactions: reactionRows === null ? null : summarizeReactions(reactionRows, viewerId), watermarks }, other]
}

/**
 * Stored messages of one group as the API shows them, with reactions and readers when asked
 * for. `status` is `delivered` once another member's delivered watermark reached the message
 * (seed 01 §6.1 MessageStatus), `sent` before.
 */
export async function present (deps: ChatDeps, rows: MessageView[], viewerId: number, include: Include): Promise<ChatMessage[]> {
  if (rows.length === 0) return []
  const repo = deps.repo
  const groupBin = (rows[0] as MessageView).group_id
  const parents = rows.flatMap((r) => r.parent_message_id === null ? [] : [r.parent_message_id])
  const [shown, [delivered, files, clearedParents]] = await withShown(deps, rows, viewerId, include, Promise.all([
    repo.deliveredTops(groupBin),
    attachmentsOf(deps, rows),
    viewerId > 0 ? repo.clearedAmong(groupBin, viewerId, parents) : Promise.resolve(new Set<string>())
  ]))
  const facts = rows.map((row): RowFacts => {
    const deliveredTo = delivered.find((w) => w.user_id !== row.sender_user_id)
    return {
      delivered: deliveredTo !== undefined && deliveredTo.last_delivered_seq >= row.seq,
      parentCleared: row.parent_message_id !== null && clearedParents.has(row.parent_message_id.toString('hex'))
    }
  })
  return assemble(rows, shown, facts, files, include)
}

/**
 * A page of history (repository.page rows, which carry their delivered, cleared-parent and
 * attachment facts) as present() shows it, without present()'s queries: a page without
 * attachments, reactions or readers asked for is the one statement that read it.
 */
export async function presentPage (deps: ChatDeps, rows: PageRow[], viewerId: number, include: Include): Promise<ChatMessage[]> {
  if (rows.length === 0) return []
  const withFiles = rows.filter((row) => !row.is_deleted && Number(row.has_attachments) === 1).map((row) => row.id)
  const [shown, files] = await withShown(deps, rows, viewerId, include, withFiles.length === 0 ? Promise.resolve(NO_ATTACHMENTS) : deps.attachments.ofMessages(withFiles))
  const facts = rows.map((row): RowFacts => ({ delivered: Number(row.delivered_to_other) === 1, parentCleared: Number(row.parent_cleared) === 1 }))
  return assemble(rows, shown, facts, files, include)
}

function assemble (rows: readonly MessageView[], shown: Shown, facts: readonly RowFacts[], files: ReadonlyMap<string, ChatAttachment[]>, include: Include): ChatMessage[] {
  const { groupId, messageIds, opened, reactions, watermarks } = shown
  return rows.map((row, i) => {
    const message = toChatMessage(row, opened[i] as OpenedMessage, messageIds[i] as string, groupId)
    if (files.size > 0) message.attachments = files.get(row.id.toString('hex')) ?? []
    const fact = facts[i] as RowFacts
    // A reply quoting a message cleared for the viewer does not bring its words back.
    if (fact.parentCleared && message.metadata?.replyPreview !== undefined) {
      const { replyPreview: _cleared, ...rest } = message.metadata
      message.metadata = rest
    }
    if (fact.delivered) message.status = 'delivered'
    if (reactions !== null) message.reactions = reactions.get(message.id) ?? []
    if (include.readBy) {
      message.readBy = watermarks
        .filter((w) => w.user_id !== row.sender_user_id && w.last_read_seq >= row.seq)
        .map((w) => w.user_id)
    }
    return message
  })
}

/** A message visible to the caller (not cleared for them, deleted ones included); NOT_FOUND otherwise. */
export async function findVisibleOrThrow (deps: ChatDeps, caller: Caller, messageId: string): Promise<MessageView> {
  const row = await deps.repo.findVisible(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
  if (row === null) throw notFound('Message')
  return row
}

/** A message the caller is shown: visible to them and not from a sender they blocked. */
export async function findShownOrThrow (deps: ChatDeps, caller: Caller, messageId: string): Promise<MessageView> {
  const row = await deps.repo.findShown(caller.membership.groupIdBin, messageBinOf(messageId), caller.user.id)
  if (row === null) throw notFound('Message')
  return row
}
