import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import type { Database } from '../../../db/database.ts'

type Executor = Kysely<Database> | Transaction<Database>

/** A member row's unread basis, as unreadBasisOf (chat-state-sql.ts) selects it. */
export interface UnreadBasis {
  group_id: Buffer
  unread_after: number | string
  unread_upto: number | string
  unread_marked: number | boolean
  unread_user_id: number
}

/** Member rows per statement: four placeholders per range, two ranges per row. */
const ROWS_PER_STATEMENT = 500

/*
 * Unread counts by seq arithmetic (issue 16.5). A group's seqs are gap-free and every seq keeps
 * its row (send-batcher.ts gives back the seqs of messages it does not store; a deletion only
 * marks the row; no path deletes a message row but its group's deletion), so the messages
 * after a watermark `w` up to the group's newest `s` are exactly `s - w`. The unread ones are
 * those minus two kinds of exceptions, each a range of an index holding only such rows
 * (migration 0013): the member's own messages in (w, s], and the deleted messages of others in
 * (w, s]. The cost is O(chats + exceptions) instead of O(unread messages).
 *
 * Why two statements and not a correlated subquery: MariaDB plans a dependent subquery once,
 * with the watermark unknown, as a ref scan of the (group, sender) prefix: every own message
 * of the group's history. With the watermarks as constants each count is a true range.
 *
 * Concurrency: `s` and `w` come from one consistent read (the caller's statement). Every range
 * here is bounded by that `s`, so messages committed in between are not counted (as the first
 * statement did not see them) and the own-message count can never exceed `s - w`. A deletion
 * committed in between is already subtracted: the count is that of the messages up to `s` as
 * they are now, which is what a single statement run a moment later would give for them.
 * Inside a transaction both statements read the same snapshot (or, after a locking read of the
 * group row, the same committed state), so the count is exact there too.
 */

/**
 * Each row with its unread count: messages from others after the read and clear watermarks,
 * not deleted, and at least 1 while the chat is marked unread by hand.
 */
export async function withUnreadCounts<R extends UnreadBasis> (db: Executor, rows: R[]): Promise<Array<R & { unread: number }>> {
  const exceptions = new Map<number, number>()
  const pending = rows.flatMap((row, i) => Number(row.unread_upto) > Number(row.unread_after) ? [i] : [])
  for (let start = 0; start < pending.length; start += ROWS_PER_STATEMENT) {
    const ranges = pending.slice(start, start + ROWS_PER_STATEMENT).flatMap((i) => exceptionRanges(i, rows[i] as R))
    const { rows: counted } = await sql<{ k: number, n: number | string }>`${sql.join(ranges, sql` UNION ALL `)}`.execute(db)
    for (const { k, n } of counted) exceptions.set(Number(k), (exceptions.get(Number(k)) ?? 0) + Number(n))
  }
  return rows.map((row, i) => {
    const after = Number(row.unread_after)
    const upto = Number(row.unread_upto)
    const counted = upto > after ? upto - after - (exceptions.get(i) ?? 0) : 0
    return { ...row, unread: Math.max(counted, Number(row.unread_marked)) }
  })
}

/** The two exception counts of row `k`: its member's own messages, others' deleted messages, both in (after, upto]. */
function exceptionRanges (k: number, row: UnreadBasis): Array<RawBuilder<unknown>> {
  const after = Number(row.unread_after)
  const upto = Number(row.unread_upto)
  return [
    sql`(SELECT ${k} AS k, COUNT(*) AS n FROM mirror_group_messages FORCE INDEX (mirror_group_messages_sender_seq)
      WHERE group_id = ${row.group_id} AND sender_user_id = ${row.unread_user_id} AND seq > ${after} AND seq <= ${upto})`,
    sql`(SELECT ${k} AS k, COUNT(*) AS n FROM mirror_group_messages FORCE INDEX (mirror_group_messages_deleted_seq)
      WHERE group_id = ${row.group_id} AND is_deleted = 1 AND seq > ${after} AND seq <= ${upto} AND sender_user_id <> ${row.unread_user_id})`
  ]
}
