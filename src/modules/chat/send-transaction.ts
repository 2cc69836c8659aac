import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import type { MemberRole, MessageContentTypeName } from '../../../db/database.ts'

/*
 * The send transaction in two round trips, whatever the number of messages and groups in it.
 * It is the one hot path that does not go through Kysely: the transaction is a fixed shape of
 * statements, and on this path the round trips are the cost (each is a loopback write and a
 * server wake-up on both sides). Every value travels as a `?` placeholder, escaped by mysql2.
 *
 *   1. START TRANSACTION; bump every group's counter (locking the group rows until commit);
 *      read the new tops; read the senders' memberships (after the lock, see below).
 *   2. insert the messages, their search tokens, mentions and thread reply counts; COMMIT.
 *      Or ROLLBACK, when phase 1 found a message that must not be stored.
 */

/** A message row as a send inserts it: every column the send sets, the table's defaults for the rest. */
export interface SendRow {
  id: Buffer
  group_id: Buffer
  sender_user_id: number
  content: Buffer
  content_key_version: number
  metadata: Buffer | null
  metadata_key_version: number | null
  content_type: MessageContentTypeName
  parent_message_id: Buffer | null
  thread_root_id: Buffer | null
  client_message_id: string | null
  created_at: Date
  updated_at: Date
}

export interface StoredSend {
  row: SendRow
  seq: number
  tokens: Buffer[]
  mentions: Array<{ mentionedUserId: number, type: 'user' | 'everyone' }>
  threadRootBin: Buffer | null
}

/** What phase 1 found, keyed by group (hex) and by `group:sender`. */
export interface SendLocks {
  /** The group's counter after the bump; absent when the group does not exist. */
  tops: Map<string, number>
  /** The sender's role in the group; absent when they are not a member. */
  roles: Map<string, MemberRole>
}

/** Keeps one token INSERT well under max_allowed_packet (a row is ~110 bytes of SQL). */
const TOKEN_ROWS_PER_STATEMENT = 5000

const MESSAGE_COLUMNS = [
  'id', 'group_id', 'seq', 'sender_user_id', 'content', 'content_key_version', 'metadata', 'metadata_key_version',
  'content_type', 'parent_message_id', 'thread_root_id', 'client_message_id', 'created_at', 'updated_at'
] as const
const MESSAGE_ROW = `(${MESSAGE_COLUMNS.map(() => '?').join(', ')})`
const INSERT_MESSAGES = `INSERT INTO mirror_group_messages (${MESSAGE_COLUMNS.join(', ')}) VALUES `
const INSERT_TOKENS = 'INSERT INTO mirror_group_message_search_tokens (group_id, token, message_id) VALUES '
const INSERT_MENTIONS = 'INSERT INTO mirror_group_message_mentions (message_id, mentioned_user_id, group_id, mention_type) VALUES '

export const memberKey = (groupBin: Buffer, userId: number): string => `${groupBin.toString('hex')}:${userId}`

const placeholders = (count: number, row: string, separator = ', '): string => Array.from({ length: count }, () => row).join(separator)

/**
 * Phase 1. The memberships are read after the counter UPDATE, so under the group row locks that
 * every membership change takes first: a removal or demotion either committed before this read
 * (a consistent read whose snapshot starts here, after the locks), which then sees it, or waits
 * for this transaction to end.
 */
export async function lockGroups (
  connection: PoolConnection,
  counts: Map<string, { groupBin: Buffer, count: number }>,
  senders: Array<{ groupBin: Buffer, userId: number }>,
  activityAt: Date
): Promise<SendLocks> {
  const groups = [...counts.values()]
  const ids = placeholders(groups.length, '?')
  const sql = 'START TRANSACTION; ' +
    `UPDATE mirror_groups SET last_seq = last_seq + CASE id ${placeholders(groups.length, 'WHEN ? THEN ?', ' ')} ELSE 0 END, ` +
    `last_activity_at = ? WHERE id IN (${ids}); ` +
    `SELECT id, last_seq FROM mirror_groups WHERE id IN (${ids}); ` +
    `SELECT group_id, user_id, role FROM mirror_group_members WHERE ${placeholders(senders.length, '(group_id = ? AND user_id = ?)', ' OR ')}`
  const values: unknown[] = []
  for (const g of groups) values.push(g.groupBin, g.count)
  values.push(activityAt)
  for (const g of groups) values.push(g.groupBin)
  for (const g of groups) values.push(g.groupBin)
  for (const s of senders) values.push(s.groupBin, s.userId)
  const [results] = await connection.query<RowDataPacket[][]>(sql, values)
  const tops = results[2] as Array<{ id: Buffer, last_seq: number }>
  const members = results[3] as Array<{ group_id: Buffer, user_id: number, role: MemberRole }>
  return {
    tops: new Map(tops.map((r) => [r.id.toString('hex'), Number(r.last_seq)])),
    roles: new Map(members.map((m) => [memberKey(m.group_id, m.user_id), m.role]))
  }
}

/** Phase 2: every row of the batch, then COMMIT, in one round trip. */
export async function insertAndCommit (connection: PoolConnection, stored: StoredSend[]): Promise<void> {
  const statements: string[] = []
  const values: unknown[] = []

  statements.push(INSERT_MESSAGES + placeholders(stored.length, MESSAGE_ROW))
  for (const { row, seq } of stored) {
    values.push(row.id, row.group_id, seq, row.sender_user_id, row.content, row.content_key_version, row.metadata, row.metadata_key_version,
      row.content_type, row.parent_message_id, row.thread_root_id, row.client_message_id, row.created_at, row.updated_at)
  }

  const tokens = stored.flatMap(({ row, tokens }) => tokens.map((token) => [row.group_id, token, row.id] as const))
  for (let i = 0; i < tokens.length; i += TOKEN_ROWS_PER_STATEMENT) {
    const chunk = tokens.slice(i, i + TOKEN_ROWS_PER_STATEMENT)
    statements.push(INSERT_TOKENS + placeholders(chunk.length, '(?, ?, ?)'))
    for (const row of chunk) values.push(...row)
  }

  const mentions = stored.flatMap(({ row, mentions }) => mentions.map((m) => [row.id, m.mentionedUserId, row.group_id, m.type] as const))
  if (mentions.length > 0) {
    statements.push(INSERT_MENTIONS + placeholders(mentions.length, '(?, ?, ?, ?)'))
    for (const row of mentions) values.push(...row)
  }

  // Roots in a fixed order, so two batches replying to the same roots lock them alike.
  const replies = new Map<string, { groupBin: Buffer, rootBin: Buffer, count: number }>()
  for (const { row, threadRootBin } of stored) {
    if (threadRootBin === null) continue
    const key = threadRootBin.toString('hex')
    const entry = replies.get(key) ?? { groupBin: row.group_id, rootBin: threadRootBin, count: 0 }
    entry.count += 1
    replies.set(key, entry)
  }
  for (const key of [...replies.keys()].sort()) {
    const { groupBin, rootBin, count } = replies.get(key) as { groupBin: Buffer, rootBin: Buffer, count: number }
    statements.push('UPDATE mirror_group_messages SET thread_reply_count = thread_reply_count + ? WHERE id = ? AND group_id = ?')
    values.push(count, rootBin, groupBin)
  }

  statements.push('COMMIT')
  await connection.query<ResultSetHeader[]>(statements.join('; '), values)
}

/** Ends a transaction that must not commit; a connection that cannot roll back is not reused. */
export async function rollback (connection: PoolConnection): Promise<boolean> {
  try {
    await connection.query('ROLLBACK')
    return true
  } catch {
    return false
  }
}
