import t from 'tap'
import { sql } from 'kysely'
import { createConnection, createPool, type RowDataPacket } from 'mysql2/promise'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { assertSqlModePinned } from '../../db/connection.ts'
import { SEND_LANES } from '../../src/modules/chat/send-batcher.ts'
import { toBin } from '../../src/lib/ids.ts'
import type { ChatMessage, ReactionSummary } from '../../schemas/chat.ts'
import { testConfig } from '../helpers/app.ts'
import { call, type ChatGroup, createChatGroup, dataOf, sendMessage } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'

/*
 * mysql2 escapes strings with backslashes whatever the server's sql_mode. Under
 * NO_BACKSLASH_ESCAPES a backslash is an ordinary character, so an escaped quote ends the
 * literal and the rest of the value runs as SQL: on the send transaction's multi-statement
 * connections a second statement, on Kysely's queries a widened WHERE. The app pins the mode
 * of every connection it opens.
 *
 * The server's GLOBAL sql_mode is changed only while this file's app opens its connections
 * (new connections take the global mode), then restored at once and again at teardown.
 */

const MYSQL_SERVER = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const POOL_SIZE = 5

const HOSTILE_CLIENT_IDS = [
  'a\',NOW(),NOW());UPDATE users SET password_hash=NULL;COMMIT;#',
  'b\'),(NULL);DELETE FROM mirror_group_messages;COMMIT;-- ',
  'x\'OR(1)#',
  '\\',
  '\\\\\'\\\\"\\\'\\',
  'tail\\',
  '\\0\\n\\r\\Z\\%\\_\\b\\t'
]
const HOSTILE_EMOJI = ['x\'OR(1)#', '\\\'OR\'1\'=\'1', '\\', '\\\\\'\\']

const config = await testConfig(import.meta.url, { RATE_LIMIT_SCALE: '100', DATABASE_POOL_SIZE: String(POOL_SIZE) })
const admin = await createConnection({ uri: MYSQL_SERVER })
t.teardown(async () => { await admin.end() })
// Runs of this file in other checkouts on the same server take turns, so that none of them
// saves another's hostile mode as the one to restore.
await admin.query('SELECT GET_LOCK(\'parley_test_global_sql_mode\', 120)')
const [[before]] = await admin.query<Array<RowDataPacket & { mode: string }>>('SELECT @@GLOBAL.sql_mode AS mode')
const originalMode = (before as { mode: string }).mode
let restored = false
async function restoreGlobalMode (): Promise<void> {
  if (restored) return
  restored = true
  await admin.query('SET GLOBAL sql_mode = ?', [originalMode])
  await admin.query('SELECT RELEASE_LOCK(\'parley_test_global_sql_mode\')')
}
t.teardown(restoreGlobalMode)

/** The connection ids of both pools, each pool made to open all its connections at once. */
async function openEveryConnection (app: FastifyInstance): Promise<{ kysely: Set<number>, statement: Set<number> }> {
  const kysely = await Promise.all(Array.from({ length: POOL_SIZE }, async () =>
    (await sql<{ id: number }>`SELECT CONNECTION_ID() AS id, SLEEP(0.05) AS s`.execute(app.db)).rows[0]?.id ?? 0))
  const connections = await Promise.all(Array.from({ length: SEND_LANES }, async () => await app.sendBatcher.pool.getConnection()))
  const statement = await Promise.all(connections.map(async (c) => (await c.query<Array<RowDataPacket & { id: number }>>('SELECT CONNECTION_ID() AS id'))[0][0]?.id ?? 0))
  for (const c of connections) c.release()
  return { kysely: new Set(kysely), statement: new Set(statement) }
}

/**
 * Replaces every connection of the app's pools with a new one: the old ones are killed on the
 * server, and the pools open new ones once they have noticed.
 */
async function reconnectEverything (app: FastifyInstance, old: { kysely: Set<number>, statement: Set<number> }): Promise<{ kysely: Set<number>, statement: Set<number> }> {
  for (const id of [...old.kysely, ...old.statement]) await admin.query(`KILL CONNECTION ${Number(id)}`)
  for (let attempt = 1; ; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    try {
      const fresh = await openEveryConnection(app)
      if ([...fresh.kysely, ...fresh.statement].every((id) => !old.kysely.has(id) && !old.statement.has(id))) return fresh
    } catch (err) {
      // A pool handed out a killed connection it had not noticed yet; it drops it on the error.
      if (attempt >= 50) throw err
    }
  }
}

const app = await buildApp(config)
t.teardown(async () => { await app.close() })
await app.ready()
const openedBefore = await openEveryConnection(app)
let opened: { kysely: Set<number>, statement: Set<number> }
let hostileGlobal: string
const windowStart = performance.now()
try {
  await admin.query('SET GLOBAL sql_mode = CONCAT_WS(\',\', NULLIF(@@GLOBAL.sql_mode, \'\'), \'NO_BACKSLASH_ESCAPES\')')
  hostileGlobal = ((await admin.query<Array<RowDataPacket & { mode: string }>>('SELECT @@GLOBAL.sql_mode AS mode'))[0][0] as { mode: string }).mode
  opened = await reconnectEverything(app, openedBefore)
} finally {
  await restoreGlobalMode()
}
const windowMs = performance.now() - windowStart

async function passwordHashes (): Promise<Array<{ id: number, password_hash: string | null }>> {
  return await app.db.selectFrom('users').select(['id', 'password_hash']).orderBy('id').execute()
}

async function messageCount (): Promise<number> {
  const row = await app.db.selectFrom('mirror_group_messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

async function storedClientIds (g: ChatGroup): Promise<string[]> {
  const rows = await app.db.selectFrom('mirror_group_messages').select('client_message_id')
    .where('group_id', '=', toBin(g.groupId)).orderBy('seq').execute()
  return rows.map((r) => r.client_message_id ?? '')
}

async function reactionRows (): Promise<Array<{ user_id: number, emoji: string }>> {
  return await app.db.selectFrom('mirror_group_message_reactions').select(['user_id', 'emoji']).orderBy('user_id').orderBy('emoji').execute()
}

t.test('the window really had NO_BACKSLASH_ESCAPES in the server\'s global sql_mode', async (t) => {
  t.match(hostileGlobal, /NO_BACKSLASH_ESCAPES/)
  t.comment(`the server's global mode was hostile for ${Math.round(windowMs)} ms`)
  t.ok(HOSTILE_CLIENT_IDS.every((id) => id.length <= 64), 'every hostile id is a valid clientMessageId')
})

t.test('every connection of both pools runs without NO_BACKSLASH_ESCAPES, though opened while the server\'s global mode had it', async (t) => {
  const kysely = await Promise.all(Array.from({ length: POOL_SIZE }, async () =>
    (await sql<{ id: number, mode: string }>`SELECT CONNECTION_ID() AS id, @@SESSION.sql_mode AS mode, SLEEP(0.05) AS s`.execute(app.db)).rows[0]))
  const connections = await Promise.all(Array.from({ length: SEND_LANES }, async () => await app.sendBatcher.pool.getConnection()))
  const statement = await Promise.all(connections.map(async (c) => (await c.query<Array<RowDataPacket & { id: number, mode: string }>>('SELECT CONNECTION_ID() AS id, @@SESSION.sql_mode AS mode'))[0][0]))
  for (const c of connections) c.release()
  t.ok(kysely.every((row) => row !== undefined && opened.kysely.has(row.id)), 'the Kysely pool still uses the connections opened in the window')
  t.ok(statement.every((row) => row !== undefined && opened.statement.has(row.id)), 'so does the statement pool')
  for (const row of [...kysely, ...statement]) t.notMatch(row?.mode, /NO_BACKSLASH_ESCAPES/)
})

t.test('connections whose sql_mode is not the pinned one stop the start', async (t) => {
  const unpinned = createPool({ uri: config.databaseUrl, connectionLimit: 1 })
  t.teardown(async () => { await unpinned.end() })
  await unpinned.query('SET SESSION sql_mode = \'NO_BACKSLASH_ESCAPES\'')
  await t.rejects(assertSqlModePinned(app.db, unpinned), /sql_mode could not be pinned/)
  await t.resolves(assertSqlModePinned(app.db, app.sendBatcher.pool))
})

t.test('hostile clientMessageIds sent over REST, batched together, are stored and returned byte for byte and change nothing else', async (t) => {
  const g = await createChatGroup(app)
  const hashes = await passwordHashes()
  const count = await messageCount()
  const responses = await Promise.all(HOSTILE_CLIENT_IDS.map(async (clientMessageId) =>
    await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: `sent with ${clientMessageId}`, clientMessageId })))
  t.same(responses.map((r) => r.statusCode), HOSTILE_CLIENT_IDS.map(() => 201))
  const messages = responses.map((r) => (r.json() as { data: { message: ChatMessage } }).data.message)
  t.same(messages.map((m) => m.clientMessageId), HOSTILE_CLIENT_IDS, 'answered as sent')
  t.same(messages.map((m) => m.content), HOSTILE_CLIENT_IDS.map((id) => `sent with ${id}`))
  t.same([...await storedClientIds(g)].sort(), [...HOSTILE_CLIENT_IDS].sort(), 'stored as sent')

  const retries = await Promise.all(HOSTILE_CLIENT_IDS.map(async (clientMessageId) =>
    await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'retry', clientMessageId })))
  t.same(retries.map((r) => (r.json() as { data: { message: ChatMessage } }).data.message.id), messages.map((m) => m.id), 'a retry finds each original')

  t.same(await passwordHashes(), hashes, 'every password hash is intact')
  t.equal(await messageCount(), count + HOSTILE_CLIENT_IDS.length, 'exactly one row per id, nothing else added or removed')
  const history = dataOf<{ messages: ChatMessage[] }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages`))
  t.same(history.messages.map((m) => m.clientMessageId).sort(), [...HOSTILE_CLIENT_IDS].sort())
})

t.test('hostile clientMessageIds sent over WebSocket are stored and acknowledged byte for byte and change nothing else', async (t) => {
  const g = await createChatGroup(app)
  const hashes = await passwordHashes()
  const count = await messageCount()
  const ws = await connectWs(app, { token: g.admin.token })
  t.teardown(async () => { await ws.close() })
  const acks = await Promise.all(HOSTILE_CLIENT_IDS.map(async (clientMessageId, i) =>
    await ws.request('chat:send_message', { groupId: g.groupId, content: `over the socket, ${i}`, clientMessageId })))
  t.same(acks.map((a) => a.type), HOSTILE_CLIENT_IDS.map(() => 'chat:ack'))
  t.same(acks.map((a) => a.payload.clientMessageId), HOSTILE_CLIENT_IDS, 'acknowledged as sent')
  t.same([...await storedClientIds(g)].sort(), [...HOSTILE_CLIENT_IDS].sort(), 'stored as sent')
  t.same(await passwordHashes(), hashes, 'every password hash is intact')
  t.equal(await messageCount(), count + HOSTILE_CLIENT_IDS.length)
})

t.test('hostile emoji added and removed over REST touch only that reaction', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'react here')
  const other = await sendMessage(app, g.owner, g.groupId, 'and here')
  const react = async (who: typeof g.owner, messageId: string, emoji: string): Promise<ReactionSummary[]> =>
    dataOf<{ reactions: ReactionSummary[] }>(await call(app, who, 'POST', `/groups/${g.groupId}/chat/messages/${messageId}/reactions`, { emoji })).reactions
  await react(g.admin, m.id, '👍')
  await react(g.owner, m.id, '👍')
  await react(g.owner, other.id, 'x')
  for (const emoji of HOSTILE_EMOJI) await react(g.owner, m.id, emoji)
  const listed = dataOf<{ reactions: ReactionSummary[] }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}/reactions`)).reactions
  t.same(listed.map((r) => r.emoji), ['👍', ...HOSTILE_EMOJI], 'stored and listed as sent')
  const rows = await reactionRows()

  const removed = await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}/reactions/${encodeURIComponent('x\'OR(1)#')}`)
  t.equal(removed.statusCode, 200)
  t.same((removed.json() as { data: { reactions: ReactionSummary[] } }).data.reactions.map((r) => r.emoji), ['👍', ...HOSTILE_EMOJI.filter((e) => e !== 'x\'OR(1)#')])
  t.same(await reactionRows(), rows.filter((r) => !(r.user_id === g.owner.user.id && r.emoji === 'x\'OR(1)#')), 'only that one reaction is gone')
})

t.test('hostile emoji added and removed over WebSocket touch only that reaction', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'react here')
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/reactions`, { emoji: '🎉' }))
  const ws = await connectWs(app, { token: g.admin.token })
  t.teardown(async () => { await ws.close() })
  for (const emoji of HOSTILE_EMOJI) {
    t.equal((await ws.request('chat:add_reaction', { groupId: g.groupId, messageId: m.id, emoji })).type, 'chat:ack')
  }
  const rows = await reactionRows()
  t.same(rows.filter((r) => r.user_id === g.admin.user.id).map((r) => r.emoji).sort(), [...HOSTILE_EMOJI].sort(), 'stored as sent')
  const ack = await ws.request('chat:remove_reaction', { groupId: g.groupId, messageId: m.id, emoji: 'x\'OR(1)#' })
  t.equal(ack.type, 'chat:ack')
  t.same(await reactionRows(), rows.filter((r) => !(r.user_id === g.admin.user.id && r.emoji === 'x\'OR(1)#')), 'only that one reaction is gone')
})

t.test('a pin note full of quotes and backslashes is stored as written', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'pin me')
  const note = '\\\'; UPDATE users SET password_hash=NULL; #\\'
  const hashes = await passwordHashes()
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, { note }))
  const pinned = dataOf<{ pinnedMessages: ChatMessage[] }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/pinned`))
  t.equal(pinned.pinnedMessages[0]?.metadata?.pinNote, note)
  t.same(await passwordHashes(), hashes)
})
