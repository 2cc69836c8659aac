import { sql } from 'kysely'
import type { CompiledQuery, Selectable, Kysely, Transaction } from 'kysely'
import type { Database, MessageEditsTable, MessageRow } from '../../../db/database.ts'
import { queryTemplate } from '../../lib/query-template.ts'
import { hiddenNow, lastReadIdOf, unreadCountOf } from './chat-state-sql.ts'

/** A value for a template's unused binary parameter. */
const EMPTY_BIN = Buffer.alloc(0)

type Executor = Kysely<Database> | Transaction<Database>

/**
 * Search-token rows per statement, on every path that writes or deletes them: one statement
 * stays well under max_allowed_packet (a row is ~110 bytes of SQL).
 */
export const TOKEN_ROWS_PER_STATEMENT = 5000

/** A message row with its sender's current username. */
export type MessageView = MessageRow & { sender_username: string | null }

/**
 * A row of a page of history with what presenting it needs besides the message, read in the
 * same statement (issue 16.5: one round trip per page instead of three or four). MySQL answers EXISTS
 * as 0 or 1.
 */
export interface PageRow extends MessageView {
  /** A member other than the sender has a delivered watermark at or past the message. */
  delivered_to_other: number | boolean
  /** The message quotes one the reader cleared from their history. */
  parent_cleared: number | boolean
  /** Attachments point at the message (they are then read in a second query). */
  has_attachments: number | boolean
}

export interface PinnedView extends MessageView {
  pin_note: string | null
  pinned_at: Date
  pinned_by_user_id: number | null
}

export interface ReactionRow {
  message_id: Buffer
  user_id: number
  emoji: string
}

/** A replaced version of a message, sealed, as the edit history stores it. */
export type SealedEdit = Selectable<MessageEditsTable>

export interface GroupSyncRow {
  group_id: Buffer
  last_seq: number
  unread: number | string | bigint | null
  last_read_id: Buffer | null
}

export interface SummaryRow {
  group_id: Buffer
  unread: number | string | bigint | null
  id: Buffer | null
  sender_user_id: number | null
  sender_username: string | null
  content_type: MessageRow['content_type'] | null
  content: Buffer | null
  content_key_version: number | null
  is_deleted: boolean | null
  created_at: Date | null
  seq: number | null
}

/** The newest message's columns a chat summary reads. */
const SUMMARY_MESSAGE_COLUMNS = [
  'lm.id', 'lm.sender_user_id', 'lm.content_type', 'lm.content', 'lm.content_key_version', 'lm.is_deleted', 'lm.created_at', 'lm.seq'
] as const

/** A chat whose every visible message is from a blocked sender shows none. */
const NO_SUMMARY_MESSAGE = {
  id: null, sender_user_id: null, sender_username: null, content_type: null, content: null, content_key_version: null, is_deleted: null, created_at: null, seq: null
} as const

/** What a search narrows its matches to besides the words (all given ones must hold). */
export interface SearchFilters {
  senderId?: number
  from?: Date
  to?: Date
  contentType?: MessageRow['content_type']
  hasAttachments?: boolean
  threadRootBin?: Buffer
}

/**
 * The content types that carry an attachment. hasAttachments filters on them until the
 * attachments table (migration 0008) lands: then it becomes "has a row there".
 */
export const ATTACHMENT_CONTENT_TYPES: ReadonlyArray<MessageRow['content_type']> = ['image', 'file', 'audio', 'video']

/**
 * Messages of the groups the user is a member of (every group when no group is named): the
 * membership row joins first, so `seq > cleared_seq` applies each group's clear watermark.
 */
function memberMessages (executor: Executor, userId: number) {
  return executor.selectFrom('mirror_group_members as mb')
    .innerJoin('mirror_group_messages as m', 'm.group_id', 'mb.group_id')
    .leftJoin('users as u', 'u.id', 'm.sender_user_id')
    .selectAll('m')
    .select('u.username as sender_username')
    .where('mb.user_id', '=', userId)
    .whereRef('m.seq', '>', 'mb.cleared_seq')
}
type MemberMessages = ReturnType<typeof memberMessages>

/** Leaves out messages whose sender the user blocked (a primary key probe per row). */
function withoutBlockedSenders (query: MemberMessages, userId: number): MemberMessages {
  return query.where(({ not, exists, selectFrom }) => not(exists(
    selectFrom('user_blocks as b').select('b.blocker_id')
      .where('b.blocker_id', '=', userId)
      .whereRef('b.blocked_id', '=', 'm.sender_user_id')
  )))
}

function withSearchFilters (query: MemberMessages, filters: SearchFilters): MemberMessages {
  let q = query
  if (filters.senderId !== undefined) q = q.where('m.sender_user_id', '=', filters.senderId)
  if (filters.from !== undefined) q = q.where('m.created_at', '>=', filters.from)
  if (filters.to !== undefined) q = q.where('m.created_at', '<=', filters.to)
  if (filters.contentType !== undefined) q = q.where('m.content_type', '=', filters.contentType)
  if (filters.hasAttachments === true) q = q.where('m.content_type', 'in', ATTACHMENT_CONTENT_TYPES)
  if (filters.hasAttachments === false) q = q.where('m.content_type', 'not in', ATTACHMENT_CONTENT_TYPES)
  if (filters.threadRootBin !== undefined) q = q.where('m.thread_root_id', '=', filters.threadRootBin)
  return q
}

/**
 * Every query of the chat area. Messages are always addressed by group id and message id
 * together, so an id from another group is simply not found. A missing row is `null`.
 */
export function chatRepository (db: Kysely<Database>) {
  /**
   * Messages the user can see in a group: the membership row joins as a constant (primary key
   * lookup), so `seq > cleared_seq` and the cursors become a range on (group_id, seq).
   */
  function visibleMessages (groupBin: Buffer, userId: number, trx: Executor = db) {
    return memberMessages(trx, userId).where('mb.group_id', '=', groupBin)
  }

  /** What the user is shown of a group: visible messages minus those of senders they blocked. */
  function shownMessages (groupBin: Buffer, userId: number) {
    return withoutBlockedSenders(visibleMessages(groupBin, userId), userId)
  }

  /**
   * A page of the user's visible messages, with what presenting them needs (PageRow). Without a
   * cursor or with `before`: the newest ones below it, newest first. With `after`: the oldest
   * ones above it, in ascending order.
   */
  function pageQuery (groupBin: Buffer, userId: number, limit: number, cursor: 'before' | 'after' | null, cursorSeq: number, threadRootBin: Buffer | null) {
    let query = shownMessages(groupBin, userId).select((eb) => [
      // The range (group, delivered ≥ seq) of mirror_group_members_delivered holds the sender
      // at most once, so this reads one or two index entries whatever the group's size.
      eb.exists(eb.selectFrom('mirror_group_members as d').select('d.user_id')
        .whereRef('d.group_id', '=', 'm.group_id')
        .whereRef('d.last_delivered_seq', '>=', 'm.seq')
        .whereRef('d.user_id', '<>', 'm.sender_user_id')).as('delivered_to_other'),
      eb.and([
        eb('m.parent_message_id', 'is not', null),
        eb.exists(eb.selectFrom('mirror_group_messages as pm').select('pm.seq')
          .whereRef('pm.group_id', '=', 'm.group_id')
          .whereRef('pm.id', '=', 'm.parent_message_id')
          .whereRef('pm.seq', '<=', 'mb.cleared_seq'))
      ]).as('parent_cleared'),
      eb.exists(eb.selectFrom('mirror_group_chat_attachments as a').select('a.id').whereRef('a.message_id', '=', 'm.id')).as('has_attachments')
    ])
    if (threadRootBin !== null) query = query.where('m.thread_root_id', '=', threadRootBin)
    if (cursor === 'after') return query.where('m.seq', '>', cursorSeq).orderBy('m.seq', 'asc').limit(limit)
    if (cursor === 'before') query = query.where('m.seq', '<', cursorSeq)
    return query.orderBy('m.seq', 'desc').limit(limit)
  }
  /** pageQuery compiled once per shape (cursor, thread): a page then costs no query building. */
  const pageQueries = new Map<string, (groupBin: Buffer, userId: number, limit: number, cursorSeq: number, threadRootBin: Buffer) => CompiledQuery<PageRow>>()

  /** The newest message and unread count of the user's groups among `groupBins` (see `summaries`). */
  function summariesQuery (userId: number, groupBins: Buffer[]) {
    return db.selectFrom('mirror_group_members as mb')
      .innerJoin('mirror_groups as g', 'g.id', 'mb.group_id')
      .leftJoin('mirror_group_messages as lm', (join) => join
        .onRef('lm.group_id', '=', 'g.id')
        .onRef('lm.seq', '=', 'g.last_seq')
        .onRef('lm.seq', '>', 'mb.cleared_seq'))
      .leftJoin('users as u', 'u.id', 'lm.sender_user_id')
      .select(({ exists, selectFrom }) => [
        'mb.group_id',
        'mb.cleared_seq',
        ...SUMMARY_MESSAGE_COLUMNS,
        'u.username as sender_username',
        unreadCountOf('mb', 'g').as('unread'),
        exists(selectFrom('user_blocks as b').select('b.blocker_id')
          .where('b.blocker_id', '=', userId).whereRef('b.blocked_id', '=', 'lm.sender_user_id')).as('sender_blocked')
      ])
      .where('mb.user_id', '=', userId)
      .where('mb.group_id', 'in', groupBins)
  }
  type SummaryQueryRow = Awaited<ReturnType<ReturnType<typeof summariesQuery>['execute']>>[number]
  /** summariesQuery compiled once per number of groups (a chat-list page asks for its page's). */
  const summaryQueries = new Map<number, (userId: number, ...groupBins: Buffer[]) => CompiledQuery<SummaryQueryRow>>()

  function anyMessages (trx: Executor = db) {
    return trx.selectFrom('mirror_group_messages as m')
      .leftJoin('users as u', 'u.id', 'm.sender_user_id')
      .selectAll('m')
      .select('u.username as sender_username')
  }

  return {
    /** One multi-row insert for all of a message's tokens. */
    async insertSearchTokens (groupBin: Buffer, messageBin: Buffer, tokens: Buffer[], trx: Executor): Promise<void> {
      if (tokens.length === 0) return
      await trx.insertInto('mirror_group_message_search_tokens')
        .values(tokens.map((token) => ({ group_id: groupBin, token, message_id: messageBin })))
        .execute()
    },

    /**
     * Removes a message's tokens. The index is keyed (group, token, message), so they are found
     * by recomputing the tokens of the content they were made from.
     */
    async deleteSearchTokens (groupBin: Buffer, messageBin: Buffer, tokens: Buffer[], trx: Executor): Promise<void> {
      for (let i = 0; i < tokens.length; i += TOKEN_ROWS_PER_STATEMENT) {
        await trx.deleteFrom('mirror_group_message_search_tokens')
          .where('group_id', '=', groupBin).where('token', 'in', tokens.slice(i, i + TOKEN_ROWS_PER_STATEMENT)).where('message_id', '=', messageBin)
          .execute()
      }
    },

    /** Which of these users are members of the group. */
    async membersAmong (groupBin: Buffer, userIds: number[], trx: Executor = db): Promise<number[]> {
      if (userIds.length === 0) return []
      const rows = await trx.selectFrom('mirror_group_members').select('user_id')
        .where('group_id', '=', groupBin).where('user_id', 'in', userIds).execute()
      return rows.map((r) => r.user_id)
    },

    async memberIds (groupBin: Buffer, trx: Executor = db): Promise<number[]> {
      const rows = await trx.selectFrom('mirror_group_members').select('user_id').where('group_id', '=', groupBin).execute()
      return rows.map((r) => r.user_id)
    },

    /** True when the user and another member of the group block each other in either direction. */
    async blockedWithinGroup (groupBin: Buffer, userId: number, trx: Executor = db): Promise<boolean> {
      const row = await trx.selectFrom('mirror_group_members as other')
        .innerJoin('user_blocks as b', (join) => join.on((eb) => eb.or([
          eb.and([eb('b.blocker_id', '=', eb.ref('other.user_id')), eb('b.blocked_id', '=', userId)]),
          eb.and([eb('b.blocker_id', '=', userId), eb('b.blocked_id', '=', eb.ref('other.user_id'))])
        ])))
        .select('b.blocker_id')
        .where('other.group_id', '=', groupBin)
        .where('other.user_id', '<>', userId)
        .limit(1)
        .executeTakeFirst()
      return row !== undefined
    },

    /** A message of the group, whoever may see it (moderation too); deleted ones included. */
    async findInGroup (groupBin: Buffer, messageBin: Buffer, trx: Executor = db): Promise<MessageView | null> {
      const row = await anyMessages(trx).where('m.group_id', '=', groupBin).where('m.id', '=', messageBin).executeTakeFirst()
      return row ?? null
    },

    /** The message a sender stored in the group under a clientMessageId, if any. */
    async findByClientMessageId (groupBin: Buffer, senderId: number, clientMessageId: string): Promise<MessageView | null> {
      const row = await anyMessages(db).where('m.group_id', '=', groupBin).where('m.sender_user_id', '=', senderId)
        .where('m.client_message_id', '=', clientMessageId).executeTakeFirst()
      return row ?? null
    },

    /** A message of the group the user can see (not cleared for them); deleted ones included. */
    async findVisible (groupBin: Buffer, messageBin: Buffer, userId: number, trx: Executor = db): Promise<MessageView | null> {
      const row = await visibleMessages(groupBin, userId, trx).where('m.id', '=', messageBin).executeTakeFirst()
      return row ?? null
    },

    /** Which of these messages of the group are cleared for the user (hex ids). */
    async clearedAmong (groupBin: Buffer, userId: number, messageBins: Buffer[]): Promise<Set<string>> {
      if (messageBins.length === 0) return new Set()
      const rows = await db.selectFrom('mirror_group_members as mb')
        .innerJoin('mirror_group_messages as m', 'm.group_id', 'mb.group_id')
        .select('m.id')
        .where('mb.group_id', '=', groupBin)
        .where('mb.user_id', '=', userId)
        .where('m.id', 'in', messageBins)
        .whereRef('m.seq', '<=', 'mb.cleared_seq')
        .execute()
      return new Set(rows.map((r) => r.id.toString('hex')))
    },

    /**
     * The members (among `userIds` when given: a few primary-key lookups instead of reading
     * every member row) whose history of the group is cleared at or past `seq`.
     */
    async clearedPast (groupBin: Buffer, seq: number, userIds?: readonly number[]): Promise<Set<number>> {
      if (userIds !== undefined && userIds.length === 0) return new Set()
      let query = db.selectFrom('mirror_group_members').select('user_id')
        .where('group_id', '=', groupBin)
        .where('cleared_seq', '>=', seq)
      if (userIds !== undefined) query = query.where('user_id', 'in', userIds)
      const rows = await query.execute()
      return new Set(rows.map((r) => r.user_id))
    },

    /** A message of the group the user is shown (visible, and not from a sender they blocked); deleted ones included. */
    async findShown (groupBin: Buffer, messageBin: Buffer, userId: number): Promise<MessageView | null> {
      const row = await shownMessages(groupBin, userId).where('m.id', '=', messageBin).executeTakeFirst()
      return row ?? null
    },

    /** The sealed previous versions of a message, newest first. */
    async editsOf (messageBin: Buffer, limit: number): Promise<SealedEdit[]> {
      return await db.selectFrom('mirror_group_message_edits').selectAll()
        .where('message_id', '=', messageBin)
        .orderBy('version', 'desc')
        .limit(limit)
        .execute()
    },

    /** Adds `by` to a message's forwardedCount and answers the new count. */
    async addForwards (groupBin: Buffer, messageBin: Buffer, by: number): Promise<number> {
      if (by > 0) {
        await db.updateTable('mirror_group_messages')
          .set({ forwarded_count: sql<number>`forwarded_count + ${by}` })
          .where('group_id', '=', groupBin).where('id', '=', messageBin)
          .execute()
      }
      const row = await db.selectFrom('mirror_group_messages').select('forwarded_count')
        .where('group_id', '=', groupBin).where('id', '=', messageBin).executeTakeFirst()
      return row?.forwarded_count ?? 0
    },

    /** The seq of a message of the group, for cursors. */
    async seqOf (groupBin: Buffer, messageBin: Buffer): Promise<number | null> {
      const row = await db.selectFrom('mirror_group_messages').select('seq')
        .where('group_id', '=', groupBin).where('id', '=', messageBin).executeTakeFirst()
      return row?.seq ?? null
    },

    /**
     * A page of the user's visible messages. Without a cursor or with `beforeSeq`: the newest
     * ones below it, newest first. With `afterSeq`: the oldest ones above it, in ascending order.
     * Fetches one extra row to tell whether there are more.
     */
    async page (options: { groupBin: Buffer, userId: number, limit: number, beforeSeq?: number, afterSeq?: number, threadRootBin?: Buffer }): Promise<PageRow[]> {
      const cursor = options.afterSeq !== undefined ? 'after' : options.beforeSeq !== undefined ? 'before' : null
      const inThread = options.threadRootBin !== undefined
      const shape = `${cursor ?? 'newest'}:${inThread}`
      let query = pageQueries.get(shape)
      if (query === undefined) {
        query = queryTemplate((groupBin: Buffer, userId: number, limit: number, cursorSeq: number, threadRootBin: Buffer) => pageQuery(groupBin, userId, limit, cursor, cursorSeq, inThread ? threadRootBin : null))
        pageQueries.set(shape, query)
      }
      const compiled = query(options.groupBin, options.userId, options.limit + 1, options.afterSeq ?? options.beforeSeq ?? 0, options.threadRootBin ?? EMPTY_BIN)
      return (await db.executeQuery(compiled)).rows
    },

    /**
     * The two highest delivered watermarks of the group's members (an index range read): the
     * highest of any member other than a message's sender is one of them.
     */
    async deliveredTops (groupBin: Buffer): Promise<Array<{ user_id: number, last_delivered_seq: number }>> {
      return await db.selectFrom('mirror_group_members').select(['user_id', 'last_delivered_seq'])
        .where('group_id', '=', groupBin)
        .orderBy('last_delivered_seq', 'desc')
        .limit(2)
        .execute()
    },

    /** Read watermarks of the group's members. */
    async readWatermarks (groupBin: Buffer): Promise<Array<{ user_id: number, last_read_seq: number }>> {
      return await db.selectFrom('mirror_group_members').select(['user_id', 'last_read_seq'])
        .where('group_id', '=', groupBin).execute()
    },

    async reactionsOf (messageBins: Buffer[], trx: Executor = db): Promise<ReactionRow[]> {
      if (messageBins.length === 0) return []
      return await trx.selectFrom('mirror_group_message_reactions')
        .select(['message_id', 'user_id', 'emoji'])
        .where('message_id', 'in', messageBins)
        .orderBy('created_at').orderBy('user_id').orderBy('emoji')
        .execute()
    },

    /** Adds a reaction unless the user already has it; true when added. */
    async addReaction (groupBin: Buffer, messageBin: Buffer, userId: number, emoji: string, trx: Kysely<Database> = db): Promise<boolean> {
      const result = await trx.insertInto('mirror_group_message_reactions')
        .ignore()
        .values({ message_id: messageBin, user_id: userId, emoji, group_id: groupBin, created_at: new Date() })
        .executeTakeFirst()
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n
    },

    async removeReaction (messageBin: Buffer, userId: number, emoji: string): Promise<boolean> {
      const result = await db.deleteFrom('mirror_group_message_reactions')
        .where('message_id', '=', messageBin).where('user_id', '=', userId).where('emoji', '=', emoji)
        .executeTakeFirst()
      return result.numDeletedRows > 0n
    },

    async userReactionCount (messageBin: Buffer, userId: number): Promise<number> {
      const row = await db.selectFrom('mirror_group_message_reactions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('message_id', '=', messageBin).where('user_id', '=', userId)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },

    /**
     * Replaces the content of a live message if nobody edited it since `editCount` was read
     * (optimistic lock); false when it changed or was deleted meanwhile.
     */
    async replaceContent (groupBin: Buffer, messageBin: Buffer, editCount: number, sealed: {
      content: Buffer
      content_key_version: number
      metadata: Buffer | null
      metadata_key_version: number | null
    }, now: Date, trx: Executor): Promise<boolean> {
      const result = await trx.updateTable('mirror_group_messages')
        .set({ ...sealed, is_edited: true, edited_at: now, updated_at: now, edit_count: editCount + 1 })
        .where('id', '=', messageBin)
        .where('group_id', '=', groupBin)
        .where('edit_count', '=', editCount)
        .where('is_deleted', '=', false)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    async insertEdit (edit: SealedEdit, trx: Executor): Promise<void> {
      await trx.insertInto('mirror_group_message_edits').values(edit).execute()
    },

    /** Marks a live message deleted (its sealed content stays); false when it already was. */
    async softDelete (groupBin: Buffer, messageBin: Buffer, deletedBy: number, now: Date, trx: Executor): Promise<boolean> {
      const result = await trx.updateTable('mirror_group_messages')
        .set({ is_deleted: true, deleted_at: now, deleted_by: deletedBy, updated_at: now })
        .where('id', '=', messageBin)
        .where('group_id', '=', groupBin)
        .where('is_deleted', '=', false)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    async deletePin (groupBin: Buffer, messageBin: Buffer, trx: Executor = db): Promise<boolean> {
      const result = await trx.deleteFrom('mirror_group_pinned_messages')
        .where('message_id', '=', messageBin).where('group_id', '=', groupBin)
        .executeTakeFirst()
      return result.numDeletedRows > 0n
    },

    /**
     * Moves the user's read watermark up to `seq`, never back, and their delivered watermark
     * with it (a message read was delivered). Answers the lower bound of what this mark newly
     * read: the previous read watermark, or the clear watermark above it; null when the read
     * watermark was already there (or the user is not a member). The write only applies if the
     * watermark is still the one read, so concurrent marks never report a message twice.
     */
    async markReadUpTo (groupBin: Buffer, userId: number, seq: number, now: Date): Promise<number | null> {
      for (;;) {
        const current = await db.selectFrom('mirror_group_members').select(['last_read_seq', 'cleared_seq'])
          .where('group_id', '=', groupBin).where('user_id', '=', userId).executeTakeFirst()
        if (current === undefined || current.last_read_seq >= seq) return null
        const result = await db.updateTable('mirror_group_members')
          .set({ last_read_seq: seq, last_read_at: now, marked_unread: false, last_delivered_seq: sql<number>`GREATEST(last_delivered_seq, ${seq})` })
          .where('group_id', '=', groupBin)
          .where('user_id', '=', userId)
          .where('last_read_seq', '=', current.last_read_seq)
          .executeTakeFirst()
        // Another mark moved the watermark meanwhile (it only rises, so this ends): read it again.
        if (result.numUpdatedRows > 0n) return Math.max(current.last_read_seq, current.cleared_seq)
      }
    },

    /** Ends a "mark as unread" (reading does); true when the chat was marked. */
    async clearMarkedUnread (groupBin: Buffer, userId: number): Promise<boolean> {
      const result = await db.updateTable('mirror_group_members').set({ marked_unread: false })
        .where('group_id', '=', groupBin).where('user_id', '=', userId).where('marked_unread', '=', true)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    /**
     * Ids of the newest `limit` messages with fromSeq < seq < toSeq that the user reads
     * (from others, not deleted), ascending.
     */
    async readableIdsBetween (groupBin: Buffer, userId: number, fromSeqExclusive: number, toSeqExclusive: number, limit: number): Promise<Buffer[]> {
      if (limit <= 0 || toSeqExclusive - fromSeqExclusive <= 1) return []
      const rows = await db.selectFrom('mirror_group_messages').select('id')
        .where('group_id', '=', groupBin)
        .where('seq', '>', fromSeqExclusive)
        .where('seq', '<', toSeqExclusive)
        .where('sender_user_id', '<>', userId)
        .where('is_deleted', '=', false)
        .orderBy('seq', 'desc')
        .limit(limit)
        .execute()
      return rows.map((r) => r.id).reverse()
    },

    /** Moves the delivered watermark up to `seq`, never back. */
    async markDeliveredUpTo (groupBin: Buffer, userId: number, seq: number): Promise<boolean> {
      const result = await db.updateTable('mirror_group_members')
        .set({ last_delivered_seq: sql<number>`GREATEST(last_delivered_seq, ${seq})` })
        .where('group_id', '=', groupBin)
        .where('user_id', '=', userId)
        .where('last_delivered_seq', '<', seq)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },

    /** Moves the delivered watermarks of several members of one group up to `seq`, never back: one statement. */
    async markDeliveredUpToMany (groupBin: Buffer, userIds: readonly number[], seq: number): Promise<void> {
      if (userIds.length === 0) return
      await db.updateTable('mirror_group_members')
        .set({ last_delivered_seq: seq })
        .where('group_id', '=', groupBin)
        .where('user_id', 'in', userIds)
        .where('last_delivered_seq', '<', seq)
        .execute()
    },

    /** Messages from others after the user's read and clear watermarks, not deleted; at least 1 while marked unread. */
    async unreadCount (groupBin: Buffer, userId: number): Promise<number> {
      const row = await db.selectFrom('mirror_group_members as mb')
        .innerJoin('mirror_groups as g', 'g.id', 'mb.group_id')
        .select(unreadCountOf('mb', 'g').as('n'))
        .where('mb.group_id', '=', groupBin)
        .where('mb.user_id', '=', userId)
        .executeTakeFirst()
      return Number(row?.n ?? 0)
    },

    async pinState (groupBin: Buffer, messageBin: Buffer, trx: Executor): Promise<{ count: number, maxOrder: number, pinned: boolean }> {
      const row = await trx.selectFrom('mirror_group_pinned_messages')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.max<number | null>('pin_order').as('max_order'),
          eb.fn.sum<number | string | null>(eb.case().when('message_id', '=', messageBin).then(1).else(0).end()).as('mine')
        ])
        .where('group_id', '=', groupBin)
        .executeTakeFirstOrThrow()
      return { count: Number(row.n), maxOrder: Number(row.max_order ?? 0), pinned: Number(row.mine ?? 0) > 0 }
    },

    async insertPin (pin: { message_id: Buffer, group_id: Buffer, pinned_by_user_id: number, pin_order: number, pin_note: string | null, pinned_at: Date }, trx: Executor): Promise<void> {
      await trx.insertInto('mirror_group_pinned_messages').values(pin).execute()
    },

    async updatePinNote (groupBin: Buffer, messageBin: Buffer, note: string | null, trx: Executor): Promise<void> {
      await trx.updateTable('mirror_group_pinned_messages').set({ pin_note: note })
        .where('message_id', '=', messageBin).where('group_id', '=', groupBin).execute()
    },

    /** The group's pinned messages the user can see, in pin order. */
    async pinned (groupBin: Buffer, userId: number, limit: number): Promise<PinnedView[]> {
      return await shownMessages(groupBin, userId)
        .innerJoin('mirror_group_pinned_messages as p', 'p.message_id', 'm.id')
        .select(['p.pin_note', 'p.pinned_at', 'p.pinned_by_user_id'])
        .orderBy('p.pin_order').orderBy('p.pinned_at')
        .limit(limit)
        .execute()
    },

    /**
     * Live messages the user is shown whose tokens include every query token (the blind index)
     * and that pass the filters, newest first; and the total number of them.
     */
    async search (groupBin: Buffer, userId: number, tokens: Buffer[], filters: SearchFilters, limit: number, offset: number): Promise<{ rows: MessageView[], total: number }> {
      const matching = () => withSearchFilters(shownMessages(groupBin, userId), filters)
        .innerJoin(
          (eb) => eb.selectFrom('mirror_group_message_search_tokens as t')
            .select('t.message_id')
            .where('t.group_id', '=', groupBin)
            .where('t.token', 'in', tokens)
            .groupBy('t.message_id')
            .having((h) => h.fn.count('t.token').distinct(), '=', tokens.length)
            .as('hit'),
          (join) => join.onRef('hit.message_id', '=', 'm.id')
        )
        .where('m.is_deleted', '=', false)
      const rows = await matching().orderBy('m.seq', 'desc').limit(limit).offset(offset).execute()
      const total = rows.length < limit && (rows.length > 0 || offset === 0)
        ? offset + rows.length
        : Number((await matching().clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      return { rows, total }
    },

    /** The groups of the user with the most recent activity first, at most `limit`. */
    async recentGroupsOf (userId: number, limit: number): Promise<Buffer[]> {
      const rows = await db.selectFrom('mirror_group_members as mb')
        .innerJoin('mirror_groups as g', 'g.id', 'mb.group_id')
        .select('mb.group_id')
        .where('mb.user_id', '=', userId)
        .orderBy('g.last_activity_at', 'desc').orderBy('g.id', 'desc')
        .limit(limit)
        .execute()
      return rows.map((r) => r.group_id)
    },

    /**
     * Search over several groups at once: each group with its own query tokens (the blind index
     * is keyed per group; every group's query has the same number of distinct tokens). Live
     * messages the user is shown that pass the filters, newest first by id (UUIDv7, time
     * ordered), below `beforeBin` when given; one extra row tells whether more follow.
     */
    async searchAcross (userId: number, queries: Array<{ groupBin: Buffer, tokens: Buffer[] }>, tokenCount: number, filters: SearchFilters, beforeBin: Buffer | null, limit: number): Promise<MessageView[]> {
      if (queries.length === 0 || tokenCount === 0) return []
      let query = withSearchFilters(withoutBlockedSenders(memberMessages(db, userId), userId), filters)
        .where('mb.group_id', 'in', queries.map((q) => q.groupBin))
        .where('m.is_deleted', '=', false)
      if (beforeBin !== null) query = query.where('m.id', '<', beforeBin)
      return await query
        .innerJoin(
          (eb) => eb.selectFrom('mirror_group_message_search_tokens as t')
            .select(['t.group_id', 't.message_id'])
            .where((w) => w.or(queries.map((q) => w.and([w('t.group_id', '=', q.groupBin), w('t.token', 'in', q.tokens)]))))
            .groupBy(['t.group_id', 't.message_id'])
            .having((h) => h.fn.count('t.token').distinct(), '=', tokenCount)
            .as('hit'),
          (join) => join.onRef('hit.message_id', '=', 'm.id').onRef('hit.group_id', '=', 'm.group_id')
        )
        .orderBy('m.id', 'desc')
        .limit(limit + 1)
        .execute()
    },

    /** The group's newest seq and the user's clear watermark; null when the user is not a member. */
    async groupPosition (groupBin: Buffer, userId: number): Promise<{ last_seq: number, cleared_seq: number } | null> {
      const row = await db.selectFrom('mirror_groups as g')
        .innerJoin('mirror_group_members as mb', 'mb.group_id', 'g.id')
        .select(['g.last_seq', 'mb.cleared_seq'])
        .where('g.id', '=', groupBin)
        .where('mb.user_id', '=', userId)
        .executeTakeFirst()
      return row ?? null
    },

    /** Messages with fromSeq < seq ≤ toSeq (no upper bound when null), ascending, at most `limit`. */
    async range (groupBin: Buffer, fromSeqExclusive: number, toSeqInclusive: number | null, limit: number): Promise<MessageView[]> {
      let query = anyMessages().where('m.group_id', '=', groupBin).where('m.seq', '>', fromSeqExclusive)
      if (toSeqInclusive !== null) query = query.where('m.seq', '<=', toSeqInclusive)
      return await query.orderBy('m.seq', 'asc').limit(limit).execute()
    },

    /** Per group of the user (but deleted direct chats still hidden): newest seq, unread count and the message at the read watermark. */
    async syncRows (userId: number): Promise<GroupSyncRow[]> {
      return (await this.syncRowsOf([userId])).get(userId) ?? []
    },

    /** syncRows of several users in one query (connections opening together share it), by user. */
    async syncRowsOf (userIds: readonly number[]): Promise<Map<number, GroupSyncRow[]>> {
      const byUser = new Map<number, GroupSyncRow[]>()
      if (userIds.length === 0) return byUser
      const rows = await db.selectFrom('mirror_group_members as mb')
        .innerJoin('mirror_groups as g', 'g.id', 'mb.group_id')
        .select([
          'mb.user_id',
          'mb.group_id',
          'g.last_seq',
          unreadCountOf('mb', 'g').as('unread'),
          lastReadIdOf('mb').as('last_read_id')
        ])
        .where('mb.user_id', 'in', userIds)
        .where(sql<boolean>`NOT ${hiddenNow('mb', 'g')}`)
        .execute()
      for (const { user_id: userId, ...row } of rows) {
        let list = byUser.get(userId)
        if (list === undefined) {
          list = []
          byUser.set(userId, list)
        }
        list.push(row)
      }
      return byUser
    },

    /**
     * Per requested group of the user: the newest message they can see and their unread count.
     * The newest message is the group's last one, unless the user blocked its sender: then the
     * newest before it from anyone else (a read per such chat, none for users who block no one).
     */
    async summaries (userId: number, groupBins: Buffer[]): Promise<SummaryRow[]> {
      if (groupBins.length === 0) return []
      let query = summaryQueries.get(groupBins.length)
      if (query === undefined) {
        query = queryTemplate((id: number, ...bins: Buffer[]) => summariesQuery(id, bins), 1 + groupBins.length)
        summaryQueries.set(groupBins.length, query)
      }
      const { rows } = await db.executeQuery(query(userId, ...groupBins))
      return await Promise.all(rows.map(async ({ cleared_seq: clearedSeq, sender_blocked: senderBlocked, ...row }) => {
        if (Number(senderBlocked) !== 1 || row.seq === null) return row
        const shown = await db.selectFrom('mirror_group_messages as lm')
          .innerJoin('users as u', 'u.id', 'lm.sender_user_id')
          .select([...SUMMARY_MESSAGE_COLUMNS, 'u.username as sender_username'])
          .where('lm.group_id', '=', row.group_id).where('lm.seq', '>', clearedSeq).where('lm.seq', '<', row.seq)
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('user_blocks as b').select('b.blocker_id')
            .where('b.blocker_id', '=', userId).whereRef('b.blocked_id', '=', 'lm.sender_user_id'))))
          .orderBy('lm.seq', 'desc').limit(1).executeTakeFirst()
        return { ...row, ...(shown ?? NO_SUMMARY_MESSAGE) }
      }))
    }
  }
}

export type ChatRepository = ReturnType<typeof chatRepository>
