import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { ManualClock } from '../../helpers/clock.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { createGroup } from '../../helpers/api.ts'
import { until } from '../../helpers/wait.ts'
import { Receiver, type Received } from '../../helpers/webhook-receiver.ts'
import { toBin } from '../../../src/lib/ids.ts'

// The push webhook's backoff and retry window run on the app's clock: a minute's backoff and a
// ten-minute window are checked to the millisecond without waiting for them. The poll that finds
// other instances' work stays on real time (every 100 ms here) and must not jump the queue.

const BASE_MS = 60_000
const WINDOW_MS = 600_000

const receiver = new Receiver()
await receiver.start()
t.teardown(async () => { await receiver.stop() })

const clock = new ManualClock()
const app = await buildTestApp(t, import.meta.url, {
  clock,
  env: {
    PUSH_WEBHOOK_URL: receiver.url,
    PUSH_WEBHOOK_SECRET: 'webhook-secret-for-tests-0123456789',
    PUSH_WEBHOOK_RETRY_BASE_MS: String(BASE_MS),
    PUSH_WEBHOOK_RETRY_WINDOW_MS: String(WINDOW_MS),
    NOTIFICATION_POLL_MS: '100'
  }
})

const forUser = (user: TestUser) => (r: Received): boolean => r.body.userId === user.user.id

async function rowOf (eventId: string): Promise<{ status: string, attempts: number, next_attempt_at: Date, created_at: Date, dead_at: Date | null } | undefined> {
  return await app.db.selectFrom('push_webhook_outbox').select(['status', 'attempts', 'next_attempt_at', 'created_at', 'dead_at'])
    .where('event_id', '=', toBin(eventId)).executeTakeFirst()
}

t.test('a failed post is retried after its backoff on the app\'s clock, not a millisecond before', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  // Bob is offline: being added to the group is posted to him. The first attempt fails.
  receiver.respond = (r) => forUser(bob)(r) && receiver.received.filter((x) => x.eventId === r.eventId).length === 1 ? 500 : 200
  t.teardown(() => { receiver.respond = () => 200 })
  await createGroup(app, alice, [bob])
  const [first] = await receiver.nth(1, forUser(bob))
  if (first === undefined) throw new Error('no request')
  await until(async () => (await rowOf(first.eventId))?.attempts === 1)
  const row = await rowOf(first.eventId)
  t.equal(row?.created_at.getTime(), clock.now(), 'the event is dated on the app clock')
  const delay = (row?.next_attempt_at.getTime() ?? 0) - clock.now()
  t.ok(delay >= BASE_MS / 2 && delay <= BASE_MS, `the first backoff (${delay} ms) is within [${BASE_MS / 2}, ${BASE_MS}] of the app clock`)

  await clock.advance(delay - 1)
  // Real time on purpose: the real-time poll runs (three times) and must find nothing due.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(receiver.received.filter((r) => r.eventId === first.eventId).length, 1, 'not retried before its due time')
  await clock.advance(1)
  const attempts = await receiver.nth(2, (r) => r.eventId === first.eventId)
  t.equal(attempts.length, 2, 'retried at its due time, with the same event id')
  await until(async () => await rowOf(first.eventId) === undefined)
  t.pass('delivered on the retry: the row leaves the outbox')
})

t.test('a failure past the retry window dead-letters the event', async (t) => {
  const alice = await registerUser(app)
  const carol = await registerUser(app)
  receiver.respond = (r) => forUser(carol)(r) ? 503 : 200
  t.teardown(() => { receiver.respond = () => 200 })
  await createGroup(app, alice, [carol])
  const [first] = await receiver.nth(1, forUser(carol))
  if (first === undefined) throw new Error('no request')
  await until(async () => (await rowOf(first.eventId))?.attempts === 1)
  t.equal((await rowOf(first.eventId))?.status, 'pending', 'inside the window a failure is retried')

  // The retry falls due within the window; it fails once the window has passed.
  await clock.advance(WINDOW_MS)
  await until(async () => (await rowOf(first.eventId))?.status === 'dead')
  const dead = await rowOf(first.eventId)
  t.equal(dead?.attempts, 2)
  t.equal(dead?.dead_at?.getTime(), clock.now(), 'dead-lettered at the app clock\'s time')
  t.equal(receiver.received.filter((r) => r.eventId === first.eventId).length, 2, 'posted twice, then no more')
})
