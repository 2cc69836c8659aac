import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import type { Selectable } from 'kysely'
import type { MemberRole, MessagesTable } from '../../../db/database.ts'
import { TOKEN_ROWS_PER_STATEMENT } from './repository.ts'

/*
 * The send transaction in two round trips, whatever the number of messages and groups in it.
 * It is the one hot path that does not go through Kysely: the transaction is a fixed shape of
 * statements, and on this path the round trips are the cost (each is a loopback write and a
 * server wake-up on both sides). Values are written into the statement as literals (see
 * `literal`): binary values as hex, integers as digits, strings and dates escaped by mysql2,
 * which is safe because every pooled connection's sql_mode is pinned (db/connection.ts).
 *
 *   1. START TRANSACTION; bump every group's counter by its number of messages (locking the
 *      group rows until commit); read the new tops; read the senders' memberships and the
 *      messages already stored under the batch's clientMessageIds (after the lock, see below),
 *      and lock the uploads the batch's sends name in attachmentIds.
 *   2. give back the seqs of the messages phase 1 left out (refused, or retries of a stored
 *      clientMessageId); insert the others, their search tokens, mentions, notification jobs
 *      and thread reply counts, and claim their attachments; COMMIT. Or ROLLBACK, when phase 1
 *      left nothing to store.
 */

/** The columns a send sets (the table's defaults fill the rest); the commit adds `seq`. */
const SEND_COLUMNS = [
  'id', 'group_id', 'sender_user_id', 'content', 'content_key_version', 'metadata', 'metadata_key_version',
  'content_type', 'parent_message_id', 'thread_root_id', 'client_message_id', 'created_at', 'updated_at'
] as const satisfies ReadonlyArray<keyof MessagesTable>

/** A message row as a send inserts it, typed from the table (db/database.ts). */
export type SendRow = Pick<Selectable<MessagesTable>, typeof SEND_COLUMNS[number]>

export interface StoredSend {
  row: SendRow
  seq: number
  tokens: Buffer[]
  mentions: Array<{ mentionedUserId: number, type: 'user' | 'everyone' }>
  threadRootBin: Buffer | null
  /** It mentions someone or replies: one notification job row is written with it (never one per recipient). */
  notifies?: boolean
  /** Uploads the message carries: claimed (message_id set) in the same commit. */
  attachmentBins?: Buffer[]
}

/** An upload named by a send of the batch, as phase 1 read it (locked). */
export interface AttachmentClaimRow {
  groupBin: Buffer
  uploaderId: number
  /** The message that carries it already; null while unattached. */
  messageBin: Buffer | null
}

/** What phase 1 found, keyed by group (hex), by `group:sender` and by `retryKey`. */
export interface SendLocks {
  /** The group's counter after the bump; absent when the group does not exist. */
  tops: Map<string, number>
  /** The sender's role in the group; absent when they are not a member. */
  roles: Map<string, MemberRole>
  /** The id of the message already stored under a clientMessageId of the batch. */
  originals: Map<string, Buffer>
  /** The uploads the batch's sends name, by id (hex); absent when there is no such upload. */
  attachments: Map<string, AttachmentClaimRow>
}

/** The clientMessageIds of the batch, per sender and group. */
export interface SenderRetries {
  groupBin: Buffer
  userId: number
  clientMessageIds: string[]
}

const INSERT_MESSAGES = `INSERT INTO mirror_group_messages (${[...SEND_COLUMNS, 'seq'].join(', ')}) VALUES `
const INSERT_TOKENS = 'INSERT INTO mirror_group_message_search_tokens (group_id, token, message_id) VALUES '
const INSERT_MENTIONS = 'INSERT INTO mirror_group_message_mentions (message_id, mentioned_user_id, group_id, mention_type) VALUES '
const INSERT_NOTIFICATION_JOBS = 'INSERT INTO notification_jobs (kind, group_id, message_id, actor_user_id, created_at) VALUES '

export const memberKey = (groupBin: Buffer, userId: number): string => `${groupBin.toString('hex')}:${userId}`

/**
 * A clientMessageId as the unique key on (group, sender, clientMessageId) compares it: the
 * column's utf8mb4_bin collation pads with spaces, so trailing spaces do not tell two apart.
 */
export const retryKey = (groupBin: Buffer, userId: number, clientMessageId: string): string =>
  `${memberKey(groupBin, userId)}:${clientMessageId.replace(/ +$/, '')}`

type SqlValue = Buffer | number | string | Date | null

/**
 * A value as SQL. Binary values and integers cannot carry anything but hex digits and digits, so
 * they are written directly; mysql2's `?` formatting would scan the whole multi-row statement and
 * test every value's type (~6% of a send's CPU in a profile). Strings and dates go through the
 * connection's own escaping (and its time zone), exactly as a placeholder would.
 */
function literal (connection: PoolConnection, value: SqlValue): string {
  if (value === null) return 'NULL'
  if (Buffer.isBuffer(value)) return `X'${value.toString('hex')}'`
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`)
    return String(value)
  }
  return connection.escape(value)
}

const row = (connection: PoolConnection, values: SqlValue[]): string => `(${values.map((v) => literal(connection, v)).join(', ')})`

/**
 * Phase 1. The memberships and the stored clientMessageIds are read after the counter UPDATE,
 * so under the group row locks: a membership change takes the group lock first, and every
 * message of a group is inserted under it, so each of them either committed before these reads
 * (consistent reads whose snapshot starts here, after the locks), which then see it, or waits
 * for this transaction to end.
 */
export async function lockGroups (
  connection: PoolConnection,
  counts: Map<string, { groupBin: Buffer, count: number }>,
  senders: Array<{ groupBin: Buffer, userId: number }>,
  retries: SenderRetries[],
  activityAt: Date,
  attachmentBins: Buffer[] = []
): Promise<SendLocks> {
  const groups = [...counts.values()]
  const ids = groups.map((g) => literal(connection, g.groupBin)).join(', ')
  const bumps = groups.map((g) => `WHEN ${literal(connection, g.groupBin)} THEN ${literal(connection, g.count)}`).join(' ')
  const members = senders.map((m) => `(group_id = ${literal(connection, m.groupBin)} AND user_id = ${literal(connection, m.userId)})`).join(' OR ')
  let sql = 'START TRANSACTION; ' +
    `UPDATE mirror_groups SET last_seq = last_seq + CASE id ${bumps} ELSE 0 END, last_activity_at = ${literal(connection, activityAt)} WHERE id IN (${ids}); ` +
    `SELECT id, last_seq FROM mirror_groups WHERE id IN (${ids}); ` +
    `SELECT group_id, user_id, role FROM mirror_group_members WHERE ${members}`
  if (retries.length > 0) {
    const stored = retries.map((r) => `(group_id = ${literal(connection, r.groupBin)} AND sender_user_id = ${literal(connection, r.userId)} ` +
      `AND client_message_id IN (${r.clientMessageIds.map((id) => literal(connection, id)).join(', ')}))`).join(' OR ')
    sql += `; SELECT group_id, sender_user_id, client_message_id, id FROM mirror_group_messages WHERE ${stored}`
  }
  // Locking reads: the sweep deleting an unattached upload waits for this commit, or this
  // send sees the upload gone. Claims themselves are serialized by the group row lock above.
  if (attachmentBins.length > 0) {
    sql += `; SELECT id, group_id, uploader_user_id, message_id FROM mirror_group_chat_attachments WHERE id IN (${attachmentBins.map((bin) => literal(connection, bin)).join(', ')}) FOR UPDATE`
  }
  const [results] = await connection.query<RowDataPacket[][]>(sql)
  const tops = results[2] as Array<{ id: Buffer, last_seq: number }>
  const roles = results[3] as Array<{ group_id: Buffer, user_id: number, role: MemberRole }>
  let next = 4
  const originals = (retries.length > 0 ? results[next++] : []) as Array<{ group_id: Buffer, sender_user_id: number, client_message_id: string, id: Buffer }>
  const claims = (attachmentBins.length > 0 ? results[next++] : []) as Array<{ id: Buffer, group_id: Buffer, uploader_user_id: number, message_id: Buffer | null }>
  return {
    tops: new Map(tops.map((r) => [r.id.toString('hex'), Number(r.last_seq)])),
    roles: new Map(roles.map((m) => [memberKey(m.group_id, m.user_id), m.role])),
    originals: new Map(originals.map((o) => [retryKey(o.group_id, o.sender_user_id, o.client_message_id), o.id])),
    attachments: new Map(claims.map((a) => [a.id.toString('hex'), { groupBin: a.group_id, uploaderId: a.uploader_user_id, messageBin: a.message_id }]))
  }
}

/**
 * Phase 2 in one round trip: the counters lowered by the seqs phase 1 took for messages that
 * are not stored (`givenBack`, by group; the group rows are still locked, so nobody saw them),
 * every row of the stored messages, then COMMIT.
 */
export async function insertAndCommit (connection: PoolConnection, stored: StoredSend[], givenBack: Array<{ groupBin: Buffer, count: number }>): Promise<void> {
  const statements: string[] = []

  if (givenBack.length > 0) {
    const ids = givenBack.map((g) => literal(connection, g.groupBin)).join(', ')
    const drops = givenBack.map((g) => `WHEN ${literal(connection, g.groupBin)} THEN ${literal(connection, g.count)}`).join(' ')
    statements.push(`UPDATE mirror_groups SET last_seq = last_seq - CASE id ${drops} ELSE 0 END WHERE id IN (${ids})`)
  }

  statements.push(INSERT_MESSAGES + stored.map(({ row: r, seq }) => row(connection, [...SEND_COLUMNS.map((column) => r[column]), seq])).join(', '))

  const tokens = stored.flatMap(({ row: r, tokens }) => {
    const group = literal(connection, r.group_id)
    const message = literal(connection, r.id)
    return tokens.map((token) => `(${group}, ${literal(connection, token)}, ${message})`)
  })
  for (let i = 0; i < tokens.length; i += TOKEN_ROWS_PER_STATEMENT) {
    statements.push(INSERT_TOKENS + tokens.slice(i, i + TOKEN_ROWS_PER_STATEMENT).join(', '))
  }

  const mentions = stored.flatMap(({ row: r, mentions }) => mentions.map((m) => row(connection, [r.id, m.mentionedUserId, r.group_id, m.type])))
  if (mentions.length > 0) statements.push(INSERT_MENTIONS + mentions.join(', '))

  for (const { row: r, attachmentBins } of stored) {
    if (attachmentBins === undefined || attachmentBins.length === 0) continue
    statements.push(`UPDATE mirror_group_chat_attachments SET message_id = ${literal(connection, r.id)} ` +
      `WHERE group_id = ${literal(connection, r.group_id)} AND message_id IS NULL AND id IN (${attachmentBins.map((bin) => literal(connection, bin)).join(', ')})`)
  }
  // Committed with the message, so its notifications survive a crash right after the commit.
  const jobs = stored.filter((s) => s.notifies === true).map(({ row: r }) => row(connection, ['message', r.group_id, r.id, r.sender_user_id, r.created_at]))
  if (jobs.length > 0) statements.push(INSERT_NOTIFICATION_JOBS + jobs.join(', '))

  // Roots in a fixed order, so two batches replying to the same roots lock them alike.
  const replies = new Map<string, { groupBin: Buffer, rootBin: Buffer, count: number }>()
  for (const { row: r, threadRootBin } of stored) {
    if (threadRootBin === null) continue
    const key = threadRootBin.toString('hex')
    const entry = replies.get(key) ?? { groupBin: r.group_id, rootBin: threadRootBin, count: 0 }
    entry.count += 1
    replies.set(key, entry)
  }
  for (const key of [...replies.keys()].sort()) {
    const { groupBin, rootBin, count } = replies.get(key) as { groupBin: Buffer, rootBin: Buffer, count: number }
    statements.push(`UPDATE mirror_group_messages SET thread_reply_count = thread_reply_count + ${literal(connection, count)} ` +
      `WHERE id = ${literal(connection, rootBin)} AND group_id = ${literal(connection, groupBin)}`)
  }

  statements.push('COMMIT')
  await connection.query<ResultSetHeader[]>(statements.join('; '))
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
