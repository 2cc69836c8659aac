import { randomBytes } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { createDatabase, createStatementPool, migrateToLatest } from '../../db/connection.ts'
import { SEND_LANES, createSendBatcher } from '../../src/modules/chat/send-batcher.ts'
import { newId, toBin } from '../../src/lib/ids.ts'
import { argValue, report } from './lib.ts'

/*
 * The database's ceiling for sends on this machine: the real send transaction (counter, message
 * row, blind-index tokens, the sender's membership) through the real group-commit batcher, with no HTTP, auth, crypto or
 * events in front of it. `--concurrency` producers each commit one message after another.
 */
const MYSQL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const database = 'parley_bench_raw'
const groups = argValue('groups', 50)
const concurrency = argValue('concurrency', 64)
const seconds = argValue('duration', 10)
const tokensPerMessage = argValue('tokens', 8)

const admin = await createConnection({ uri: MYSQL })
await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
await admin.end()
const { db } = createDatabase(`${MYSQL}/${database}`, 20)
await migrateToLatest(db)

await db.insertInto('users').values({ email: 'bench@bench.test', username: 'bench', created_at: new Date(), updated_at: new Date() }).execute()
const { id: userId } = await db.selectFrom('users').select('id').executeTakeFirstOrThrow()
const groupBins = Array.from({ length: groups }, () => toBin(newId()))
await db.insertInto('mirror_groups').values(groupBins.map((id, i) => ({ id, name: `g${i}`, type: 'group' as const }))).execute()
await db.insertInto('mirror_group_members').values(groupBins.map((id) => ({ group_id: id, user_id: userId, role: 'owner' as const, joined_at: new Date() }))).execute()

const statementPool = createStatementPool(`${MYSQL}/${database}`, SEND_LANES)
const batcher = createSendBatcher(statementPool)
const latencies: number[] = []
let committed = 0
const deadline = performance.now() + seconds * 1000
let next = 0
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < deadline) {
    const started = performance.now()
    const now = new Date()
    await batcher.commit({
      row: {
        id: toBin(newId()),
        group_id: groupBins[next++ % groups] as Buffer,
        sender_user_id: userId,
        content: randomBytes(28 + 60),
        content_key_version: 1,
        metadata: null,
        metadata_key_version: null,
        content_type: 'text',
        parent_message_id: null,
        thread_root_id: null,
        client_message_id: newId(),
        created_at: now,
        updated_at: now
      },
      tokens: Array.from({ length: tokensPerMessage }, () => randomBytes(16)),
      mentions: [],
      threadRootBin: null,
      adminOnly: null
    })
    latencies.push(performance.now() - started)
    committed += 1
  }
}))
latencies.sort((a, b) => a - b)
report('raw-send-transactions', {
  sendsPerSecond: Math.round(committed / seconds),
  p50ms: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
  p99ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
  concurrency,
  groups
})
await Promise.all([db.destroy(), statementPool.end()])
