import t from 'tap'
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, testConfig } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { createGroup, sendMessage } from '../../helpers/api.ts'
import { connectWs } from '../../helpers/ws.ts'
import { loadConfig } from '../../../src/config.ts'
import { createDatabase } from '../../../db/connection.ts'
import { buildApp } from '../../../src/app.ts'
import { retryDelayMs } from '../../../src/modules/notifications/webhook.ts'
import { until } from '../../helpers/wait.ts'
import { Receiver, type Received } from '../../helpers/webhook-receiver.ts'

const SECRET = 'webhook-secret-for-tests-0123456789'

const receiver = new Receiver()
await receiver.start()
t.teardown(async () => { await receiver.stop() })

const webhookEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PUSH_WEBHOOK_URL: receiver.url,
  PUSH_WEBHOOK_SECRET: SECRET,
  PUSH_WEBHOOK_RETRY_BASE_MS: '20',
  PUSH_WEBHOOK_TIMEOUT_MS: '5000',
  NOTIFICATION_POLL_MS: '100',
  ...extra
})

/** A webhook-enabled instance that lives as long as the subtest. */
async function instance (t: { teardown: (fn: () => unknown) => void }, extra: Record<string, string> = {}): Promise<FastifyInstance> {
  return await buildTestApp(t, import.meta.url, { env: webhookEnv(extra) })
}

async function mention (app: FastifyInstance, sender: TestUser, groupId: string, users: TestUser[], content: string): Promise<string> {
  const mentions = users.map((u) => ({ userId: u.user.id, username: u.user.username, type: 'user', startIndex: 0, endIndex: 1 }))
  return (await sendMessage(app, sender, groupId, { content, metadata: { mentions } })).id
}

const forUser = (user: TestUser) => (r: Received): boolean => r.body.userId === user.user.id

async function outboxRows (app: FastifyInstance): Promise<Array<{ status: string, locked_by: string | null, attempts: number }>> {
  return await app.db.selectFrom('push_webhook_outbox').select(['status', 'locked_by', 'attempts']).execute()
}

// One instance for most tests; those that need other settings, or no other instance, close it first.
const shared = await buildApp(await testConfig(import.meta.url, webhookEnv()))
await shared.ready()
let sharedOpen = true
async function closeShared (): Promise<void> {
  if (!sharedOpen) return
  sharedOpen = false
  await shared.close()
}
t.teardown(closeShared)

t.test('the webhook is off without a URL, and a URL needs a secret', async (t) => {
  const base = { JWT_SECRET: 'x'.repeat(40), ENCRYPTION_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') }
  t.equal(loadConfig(base).notifications.pushWebhook, null)
  t.throws(() => loadConfig({ ...base, PUSH_WEBHOOK_URL: 'https://push.example.test/hook' }), /PUSH_WEBHOOK_SECRET must be set/)
  t.throws(() => loadConfig({ ...base, PUSH_WEBHOOK_URL: 'ftp://push.example.test', PUSH_WEBHOOK_SECRET: SECRET }), /PUSH_WEBHOOK_URL/)
  t.match(loadConfig({ ...base, PUSH_WEBHOOK_URL: 'https://push.example.test/hook', PUSH_WEBHOOK_SECRET: SECRET }).notifications.pushWebhook,
    { url: 'https://push.example.test/hook', secret: SECRET, retryWindowMs: 86_400_000 })
})

t.test('retries back off exponentially with jitter, up to an hour', async (t) => {
  for (let attempt = 1; attempt <= 40; attempt++) {
    const full = Math.min(3_600_000, 1000 * 2 ** (attempt - 1))
    const delay = retryDelayMs(1000, attempt)
    t.ok(delay >= full / 2 && delay <= full, `attempt ${attempt}: ${delay} within [${full / 2}, ${full}]`)
  }
})

t.test('an offline recipient\'s notification is posted signed, without content; an online recipient\'s is not', async (t) => {
  const app = await instance(t)
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  const carolWs = await connectWs(app, { token: carol.token })
  t.teardown(async () => { await carolWs.close() })
  await carolWs.next('chat:sync')
  const groupId = await createGroup(app, alice, [bob, carol])
  const messageId = await mention(app, alice, groupId, [bob, carol], 'secret plans for tonight')

  const [request] = await receiver.nth(1, (r) => forUser(bob)(r) && r.body.notification.type === 'mention')
  if (request === undefined) throw new Error('no request')
  const expected = createHmac('sha256', SECRET).update(request.raw).digest('hex')
  t.ok(timingSafeEqual(Buffer.from(request.signature), Buffer.from(`sha256=${expected}`)), 'X-Parley-Signature is the HMAC-SHA256 of the raw body')
  t.equal(request.eventId, request.body.eventId)
  t.equal(request.timestamp, String(request.body.timestamp))
  t.ok(Math.abs(Number(request.timestamp) - Date.now() / 1000) < 60, 'a current timestamp')
  t.match(request.body, {
    type: 'notification',
    userId: bob.user.id,
    notification: { type: 'mention', mentionType: 'user', groupId, messageId, actor: { id: alice.user.id, username: alice.user.username } }
  })
  t.notOk('preview' in request.body, 'no preview while WS_BROADCAST_CONTENT is off')
  t.notOk(request.raw.includes('secret plans'), 'no plaintext content')

  await carolWs.next('notification')
  await receiver.nth(1, (r) => forUser(bob)(r) && r.body.notification.type === 'added_to_group')
  t.same(receiver.received.filter(forUser(carol)), [], 'the online member gets the WebSocket event only')
})

t.test('a receiver that fails three times gets the same event id a fourth time, then no more', async (t) => {
  const app = shared
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const isMention = (r: Received): boolean => forUser(bob)(r) && r.body.notification.type === 'mention'
  receiver.respond = (r) => isMention(r) && receiver.received.filter(isMention).length <= 3 ? 500 : 200
  t.teardown(() => { receiver.respond = () => 200 })

  await mention(app, alice, groupId, [bob], 'ping')
  const attempts = await receiver.nth(4, isMention)
  t.equal(new Set(attempts.map((r) => r.eventId)).size, 1, 'one event id across every retry')
  t.equal(new Set(attempts.map((r) => r.body.notification.id)).size, 1)

  // A later event is claimed only after the round that delivered the fourth attempt has ended.
  await mention(app, alice, groupId, [bob], 'pong')
  const later = await receiver.nth(5, isMention)
  t.not(later[4]?.eventId, attempts[0]?.eventId, 'the fifth request is the next event, not a fifth attempt')
  t.equal(receiver.received.filter((r) => r.eventId === attempts[0]?.eventId).length, 4)
  await until(async () => (await outboxRows(app)).length === 0, { timeoutMs: 20_000, describe: async () => await outboxRows(app) })
  t.pass('delivered rows leave the outbox')

  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /parley_webhook_delivery_failures_total 3\b/)
  t.match(metrics.body, /parley_webhook_outbox_depth 0\b/)
  await app.db.insertInto('system_admins').values({ user_id: alice.user.id }).execute()
  const status = await app.inject({ method: 'GET', url: '/status', headers: alice.auth })
  t.same(status.json().data.webhookOutbox, { depth: 0 })
})

t.test('two instances never post the same event at the same time', async (t) => {
  const one = shared
  const two = await instance(t)
  const alice = await registerUser(one)
  const users = await Promise.all(Array.from({ length: 8 }, async () => await registerUser(one)))
  const groupId = await createGroup(one, alice, users)
  const ids = new Set(users.map((u) => u.user.id))
  const mine = (r: Received): boolean => ids.has(r.body.userId) && r.body.notification.type === 'mention'
  // Every event fails once, slowly, so both instances have retries to race for.
  receiver.respond = async (r) => {
    // A slow receiver: real time on purpose, it is the network being slow.
    await new Promise((resolve) => setTimeout(resolve, 30))
    return receiver.received.filter((x) => x.eventId === r.eventId).length === 1 ? 500 : 200
  }
  t.teardown(() => { receiver.respond = () => 200 })
  receiver.maxConcurrentPerEvent = 0

  for (let i = 0; i < 3; i++) await mention(i % 2 === 0 ? one : two, alice, groupId, users, `round ${i}`)
  const all = await receiver.nth(3 * users.length * 2, mine)
  const perEvent = new Map<string, number>()
  for (const r of all) perEvent.set(r.eventId, (perEvent.get(r.eventId) ?? 0) + 1)
  t.equal(perEvent.size, 3 * users.length, 'one event per offline recipient and message')
  t.ok([...perEvent.values()].every((n) => n === 2), 'each posted twice: the failure and the success, never more')
  t.equal(receiver.maxConcurrentPerEvent, 1, 'never two requests of one event at once')
})

t.test('previews only with WS_BROADCAST_CONTENT and the recipient\'s showPreviews', async (t) => {
  // Whichever instance makes the notification decides on the preview: no instance with other settings may run.
  await closeShared()
  const app = await instance(t, { WS_BROADCAST_CONTENT: 'true' })
  const alice = await registerUser(app)
  const shows = await registerUser(app)
  const hides = await registerUser(app)
  const groupId = await createGroup(app, alice, [shows, hides])
  await app.db.updateTable('mirror_group_members').set({ show_previews: false }).where('user_id', '=', hides.user.id).execute()
  await mention(app, alice, groupId, [shows, hides], 'dinner at eight?')
  const isMention = (user: TestUser) => (r: Received): boolean => forUser(user)(r) && r.body.notification.type === 'mention'
  const [[toShows], [toHides]] = await Promise.all([receiver.nth(1, isMention(shows)), receiver.nth(1, isMention(hides))])
  t.equal(toShows?.body.preview, 'dinner at eight?')
  t.notOk(toHides !== undefined && 'preview' in toHides.body)
  t.notOk(toHides?.raw.includes('dinner'))
})

t.test('an instance closed mid-delivery loses nothing: the next one delivers the same event id', async (t) => {
  await closeShared()
  const config = await testConfig(import.meta.url, webhookEnv())
  const first = await buildApp(config)
  await first.ready()
  const alice = await registerUser(first)
  const bob = await registerUser(first)
  const groupId = await createGroup(first, alice, [bob])
  await receiver.nth(1, forUser(bob))
  let release: () => void = () => {}
  const isMention = (r: Received): boolean => forUser(bob)(r) && r.body.notification.type === 'mention'
  receiver.respond = async (r) => {
    if (!isMention(r) || receiver.received.filter(isMention).length > 1) return 200
    return await new Promise<number>((resolve) => { release = () => { resolve(200) } })
  }
  t.teardown(() => { receiver.respond = () => 200; release() })

  await mention(first, alice, groupId, [bob], 'in flight')
  const [held] = await receiver.nth(1, isMention)
  t.match(await outboxRows(first), [{ status: 'pending', locked_by: /^[0-9a-f-]{36}$/ }], 'leased while in flight')
  t.match((await first.inject({ method: 'GET', url: '/metrics' })).body, /parley_webhook_outbox_depth 1\b/, 'in the depth until delivered')
  await first.close()
  const { db } = createDatabase(config.databaseUrl, 1)
  t.teardown(async () => { await db.destroy() })
  t.match(await db.selectFrom('push_webhook_outbox').select(['locked_by', 'attempts']).execute(), [{ locked_by: null, attempts: 0 }],
    'the lease is given back on close, the attempt not counted')
  // And had it crashed instead: a lease that has run out is taken over.
  await db.updateTable('push_webhook_outbox').set({ locked_by: 'a-crashed-instance', locked_until: new Date(Date.now() - 1000) }).execute()

  const second = await buildApp(config)
  t.teardown(async () => { await second.close() })
  await second.ready()
  const [, again] = await receiver.nth(2, isMention)
  t.equal(again?.eventId, held?.eventId, 'the same event id after the restart')
  t.equal(again?.body.notification.id, held?.body.notification.id)
})

t.test('an event that keeps failing is dead-lettered when its retry window ends', async (t) => {
  await closeShared()
  // Rows earlier instances left behind are not this test's: on a slow machine one would time
  // out (200 ms here) past this window and show as a third dead letter.
  const { db } = createDatabase((await testConfig(import.meta.url, webhookEnv())).databaseUrl, 1)
  await db.deleteFrom('push_webhook_outbox').execute()
  await db.destroy()
  const app = await instance(t, { PUSH_WEBHOOK_RETRY_WINDOW_MS: '1500', PUSH_WEBHOOK_TIMEOUT_MS: '200' })
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  let release: () => void = () => {}
  const held = new Promise<number>((resolve) => { release = () => { resolve(200) } })
  // The first attempt never gets an answer (it times out), every later one a 503.
  receiver.respond = async (r) => forUser(bob)(r) ? receiver.received.filter(forUser(bob)).length === 1 ? await held : 503 : 200
  t.teardown(() => { receiver.respond = () => 200; release() })
  const groupId = await createGroup(app, alice, [bob])
  const [first] = await receiver.nth(1, forUser(bob))
  await receiver.nth(2, (r) => r.eventId === first?.eventId)
  t.pass('an attempt that times out is retried with the same event id')
  await mention(app, alice, groupId, [bob], 'doomed')
  // The window is short: attempts go on (backing off) until both rows are dead.
  await until(async () => { const rows = await outboxRows(app); return rows.length === 2 && rows.every((r) => r.status === 'dead') }, { timeoutMs: 20_000, describe: async () => await outboxRows(app) })
  t.ok((await outboxRows(app)).every((r) => r.attempts >= 1 && r.locked_by === null), 'the addition and the mention, dead-lettered')
  const seen = receiver.received.filter(forUser(bob)).length
  t.ok(seen >= 2)
  // Another event delivered afterwards: the pump has run again, and left the dead letters alone.
  const carol = await registerUser(app)
  await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/groups/${groupId}/members`, headers: alice.auth, payload: { userId: carol.user.id } })
  await receiver.nth(1, forUser(carol))
  t.equal(receiver.received.filter(forUser(bob)).length, seen, 'a dead letter is not retried')
  await until(async () => (await outboxRows(app)).length === 2, { timeoutMs: 20_000, describe: async () => await outboxRows(app) })
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /parley_webhook_outbox_depth 0\b/, 'dead letters are not in the depth')
  await app.db.deleteFrom('push_webhook_outbox').execute()
})
