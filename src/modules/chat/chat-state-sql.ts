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
 * What the user's unread count of the member row's group is computed from (unread-counts.ts):
 * the seqs after the read and clear watermarks up to the group's newest, and the manual flag.
 * Read in the same statement as the group row, so the range is one consistent snapshot.
 */
export function unreadBasisOf (m: string, g: string) {
  return [
    sql<number>`GREATEST(${ref(m, 'last_read_seq')}, ${ref(m, 'cleared_seq')})`.as('unread_after'),
    sql<number>`${ref(g, 'last_seq')}`.as('unread_upto'),
    sql<number | boolean>`${ref(m, 'marked_unread')}`.as('unread_marked'),
    sql<number>`${ref(m, 'user_id')}`.as('unread_user_id')
  ] as const
}

/** The id of the message at the user's read watermark, or null. */
export function lastReadIdOf (m: string): RawBuilder<Buffer | null> {
  return sql<Buffer | null>`(SELECT lr.id FROM mirror_group_messages AS lr WHERE lr.group_id = ${ref(m, 'group_id')} AND lr.seq = ${ref(m, 'last_read_seq')})`
}
