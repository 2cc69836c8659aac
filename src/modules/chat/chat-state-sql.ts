import { sql, type RawBuilder, type SqlBool } from 'kysely'

/*
 * The per-user chat state that is derived at read time, in one home: every read path (chat
 * list, unread counts, chat:sync, preferences) uses these, so they agree. `m` is the alias of
 * the user's mirror_group_members row, `g` of its mirror_groups row. Nothing here is written
 * on the send path: a send moves g.last_seq and g.last_activity_at only.
 */

const ref = (alias: string, column: string) => sql.ref(`${alias}.${column}`)

/**
 * The archive still holds: archived, and every message since archived_seq arrived while the
 * chat was muted (seed 05: a new message unarchives an unmuted chat, not a muted one). The
 * newest message's time is g.last_activity_at; the service re-bases archived_seq whenever the
 * mute changes, so the mute compared here is the one in force since archived_seq.
 */
export function archivedNow (m: string, g: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${ref(m, 'archived')} = 1 AND (${ref(g, 'last_seq')} <= ${ref(m, 'archived_seq')} OR (${ref(m, 'muted_until')} IS NOT NULL AND ${ref(g, 'last_activity_at')} <= ${ref(m, 'muted_until')})))`
}

/** A deleted direct chat stays out of the user's list until a message newer than the deletion. */
export function hiddenNow (m: string, g: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${ref(m, 'hidden_seq')} IS NOT NULL AND ${ref(g, 'last_seq')} <= ${ref(m, 'hidden_seq')})`
}

/** Muted at `now` (a mute ends by itself: no job, just this comparison). */
export function mutedAt (m: string, now: Date): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${ref(m, 'muted_until')} IS NOT NULL AND ${ref(m, 'muted_until')} > ${now})`
}

/**
 * The user's unread count of the member row's group: messages from others after the read and
 * clear watermarks, not deleted, not from a sender the user blocked, and at least 1 while the
 * chat is marked unread by hand.
 *
 * Seq arithmetic, not a row count (issue 16.5). A group's seqs are gap-free and every seq keeps
 * its row (send-batcher.ts gives back the seqs of messages it does not store; a deletion only
 * marks the row; no path deletes a message row but its group's deletion), so the messages after
 * the watermark `w` are exactly `g.last_seq - w`. From those the exceptions are subtracted:
 * the user's own messages after `w`, others' deleted messages after `w` and the live messages
 * of senders the user blocked, each counted in an index (migration 0013), without touching a
 * message row.
 *
 * Why this is exact under concurrency: it is one statement, so g.last_seq and the message rows
 * are read in one snapshot (or, in a locking read, under the group row's lock, which every send
 * holds until it commits). A send moves last_seq and inserts its rows in one transaction, a
 * deletion flips is_deleted in one: no snapshot sees the seq without its row or the reverse.
 *
 * Cost: MariaDB plans a dependent subquery once, with `w` unknown, so each exception count is a
 * ref scan of its index prefix: the user's own messages in the group, and the group's deleted
 * messages (index entries only, whatever their seq). That is O(chats + own and deleted
 * messages), no longer O(messages); the unread messages of others are never read.
 */
export function unreadCountOf (m: string, g: string): RawBuilder<number> {
  const after = sql`GREATEST(${ref(m, 'last_read_seq')}, ${ref(m, 'cleared_seq')})`
  const own = sql`(SELECT COUNT(*) FROM mirror_group_messages AS uo FORCE INDEX (mirror_group_messages_sender_seq) WHERE uo.group_id = ${ref(m, 'group_id')} AND uo.sender_user_id = ${ref(m, 'user_id')} AND uo.seq > ${after})`
  const deleted = sql`(SELECT COUNT(*) FROM mirror_group_messages AS ud FORCE INDEX (mirror_group_messages_deleted_seq) WHERE ud.group_id = ${ref(m, 'group_id')} AND ud.is_deleted = 1 AND ud.seq > ${after} AND ud.sender_user_id <> ${ref(m, 'user_id')})`
  // Messages of senders the user blocked are hidden from them (history, search, realtime), so
  // they are not unread either; deleted ones are already in `deleted`. For a user who blocked
  // nobody this is one primary-key probe of user_blocks.
  const blocked = sql`(SELECT COUNT(*) FROM user_blocks AS ub JOIN mirror_group_messages AS ubm FORCE INDEX (mirror_group_messages_sender_seq) ON ubm.group_id = ${ref(m, 'group_id')} AND ubm.sender_user_id = ub.blocked_id AND ubm.seq > ${after} AND ubm.is_deleted = 0 WHERE ub.blocker_id = ${ref(m, 'user_id')})`
  // Signed: BIGINT UNSIGNED arithmetic errors out below zero instead of going negative.
  const counted = sql`CASE WHEN ${ref(g, 'last_seq')} > ${after} THEN CAST(${ref(g, 'last_seq')} AS SIGNED) - CAST(${after} AS SIGNED) - ${own} - ${deleted} - ${blocked} ELSE 0 END`
  return sql<number>`GREATEST(${counted}, ${ref(m, 'marked_unread')})`
}

/** The id of the message at the user's read watermark, or null. */
export function lastReadIdOf (m: string): RawBuilder<Buffer | null> {
  return sql<Buffer | null>`(SELECT lr.id FROM mirror_group_messages AS lr WHERE lr.group_id = ${ref(m, 'group_id')} AND lr.seq = ${ref(m, 'last_read_seq')})`
}
