import t from 'tap'
import WebSocket from 'ws'
import { buildTestApp } from '../helpers/app.ts'
import { ManualClock } from '../helpers/clock.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs, type Frame, type WsClient, wsUrl } from '../helpers/ws.ts'
import { WS_RATE_LIMITS, WS_UPGRADE_LIMIT } from '../../src/realtime/rate-limit.ts'

// Seed 01 §9 WebSocket limits, per connection: messages 10/s, typing 5/s, reactions 20/s; and
// ours: joins 20/s per connection, upgrades per client address.
// `app` runs on a clock the tests move (a burst is exactly a burst, however slow the machine);
// `scaled` runs in real time.
const clock = new ManualClock()
const app = await buildTestApp(t, import.meta.url, { clock })
const scaled = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '2' } })
// Behind a trusted proxy, so each test picks its client address with X-Forwarded-For.
const proxied = await buildTestApp(t, import.meta.url, { env: { TRUST_PROXY: '127.0.0.1' } })

async function member (t: { teardown: (fn: () => unknown) => void }, onApp = app): Promise<{ client: WsClient, groupId: string }> {
  const alice = await registerUser(onApp)
  const groupId = await createGroup(onApp, alice, [])
  const client = await connectWs(onApp, { token: alice.token })
  t.teardown(async () => { await client.close() })
  await client.request('chat:join_group', { groupId })
  return { client, groupId }
}

/** Sends `count` frames at once and sorts the answers by requestId. */
async function burst (client: WsClient, count: number, frame: (i: number) => object): Promise<{ acks: Frame[], errors: Frame[] }> {
  for (let i = 0; i < count; i++) client.send({ ...frame(i), requestId: `b${i}` })
  const answers: Frame[] = []
  for (let i = 0; i < count; i++) answers.push(await client.next(['chat:ack', 'chat:error'], (f) => f.requestId === `b${i}`))
  return { acks: answers.filter((f) => f.type === 'chat:ack'), errors: answers.filter((f) => f.type === 'chat:error') }
}

t.test('typing updates are limited to 5 per second per connection', async (t) => {
  const { client, groupId } = await member(t)
  const { acks, errors } = await burst(client, 8, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  t.equal(acks.length, 5)
  t.equal(errors.length, 3)
  t.match(errors[0]?.payload, {
    code: 'RATE_LIMIT_EXCEEDED',
    error: String,
    details: { retryAfter: 1, limit: 5, remaining: 0, resetAt: String }
  })
})

t.test('a bucket refills at the limit\'s rate: one typing token every 200 ms', async (t) => {
  const { client, groupId } = await member(t)
  const { acks } = await burst(client, 5, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  t.equal(acks.length, 5)
  await clock.advance(199)
  t.match(await client.request('chat:typing_start', { groupId }), { type: 'chat:error', payload: { code: 'RATE_LIMIT_EXCEEDED' } })
  await clock.advance(1)
  t.equal((await client.request('chat:typing_start', { groupId })).type, 'chat:ack')
  t.equal((await client.request('chat:typing_start', { groupId })).type, 'chat:error', 'one token, not more')
  // A second later the whole allowance is back.
  await clock.advance(1000)
  const { acks: again } = await burst(client, 6, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  t.equal(again.length, 5)
})

t.test('messages are limited to 10 per second per connection', async (t) => {
  const { client, groupId } = await member(t)
  const { acks, errors } = await burst(client, 12, (i) => ({ type: 'chat:send_message', payload: { groupId, content: `m${i}` } }))
  t.equal(acks.length, 10)
  t.equal(errors.length, 2)
  t.match(errors[0]?.payload, { code: 'RATE_LIMIT_EXCEEDED', details: { limit: 10 } })
  // Refused sends were not stored: seqs 1..10 only.
  t.same(acks.map((a) => a.payload.seq).sort((x, y) => (x as number) - (y as number)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

t.test('reactions are limited to 20 per second per connection', async (t) => {
  const { client, groupId } = await member(t)
  const sent = await client.request('chat:send_message', { groupId, content: 'react' })
  const messageId = sent.payload.messageId as string
  const { acks, errors } = await burst(client, 22, (i) => ({ type: i % 2 === 0 ? 'chat:add_reaction' : 'chat:remove_reaction', payload: { groupId, messageId, emoji: '🔥' } }))
  t.equal(acks.length, 20)
  t.equal(errors.length, 2)
  t.match(errors[0]?.payload, { code: 'RATE_LIMIT_EXCEEDED', details: { limit: 20 } })
})

t.test('the limits are per connection: another connection of the same user has its own', async (t) => {
  const { client, groupId } = await member(t)
  await burst(client, 6, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  const other = await member(t)
  const { acks } = await burst(other.client, 5, () => ({ type: 'chat:typing_start', payload: { groupId: other.groupId } }))
  t.equal(acks.length, 5)
})

t.test('RATE_LIMIT_SCALE raises every limit proportionally', async (t) => {
  const { client, groupId } = await member(t, scaled)
  const { acks, errors } = await burst(client, 12, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  t.equal(acks.length, 10)
  t.equal(errors.length, 2)
  t.match(errors[0]?.payload, { details: { limit: 10 } })
})

t.test('in real time, a drained bucket refills', async (t) => {
  const { client, groupId } = await member(t, scaled)
  await burst(client, 12, () => ({ type: 'chat:typing_start', payload: { groupId } }))
  // 10 a second at scale 2: a token every 100 ms. Real time on purpose: an app without a test
  // clock refills on its own.
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.equal((await client.request('chat:typing_start', { groupId })).type, 'chat:ack')
})

t.test('a client that keeps sending after being limited is closed with 4429', async (t) => {
  const { client, groupId } = await member(t)
  for (let i = 0; i < 120; i++) client.send({ type: 'chat:typing_start', payload: { groupId } })
  const closed = await client.closed
  t.equal(closed.code, 4429)
  t.ok(client.frames.some((f) => f.type === 'chat:error' && f.payload.code === 'RATE_LIMIT_EXCEEDED'), 'told before being closed')
})

t.test('a flood of malformed frames is limited too', async (t) => {
  const { client } = await member(t)
  for (let i = 0; i < 120; i++) client.send('not json')
  t.equal((await client.closed).code, 4429)
})

t.test('joins are limited to 20 per second per connection', async (t) => {
  const { client, groupId } = await member(t)
  await clock.advance(1000)
  const { acks, errors } = await burst(client, WS_RATE_LIMITS.joins + 2, () => ({ type: 'chat:join_group', payload: { groupId } }))
  t.equal(acks.length, WS_RATE_LIMITS.joins)
  t.equal(errors.length, 2)
  t.match(errors[0]?.payload, { code: 'RATE_LIMIT_EXCEEDED', details: { retryAfter: 1, limit: WS_RATE_LIMITS.joins, remaining: 0 } })
})

/** Attempts an upgrade from `address`: the HTTP status and body of a refusal, or 101. */
async function upgradeFrom (address: string): Promise<{ status: number, body: string }> {
  const ws = new WebSocket(await wsUrl(proxied), { headers: { 'x-forwarded-for': address } })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); resolve({ status: 101, body: '' }) })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    ws.once('error', reject)
  })
}

t.test('WebSocket upgrades are limited per client address with 429 in the error envelope before the upgrade', async (t) => {
  const address = `203.0.113.${process.pid % 250}`
  const statuses: number[] = []
  for (let i = 0; i < WS_UPGRADE_LIMIT.perAddress; i++) statuses.push((await upgradeFrom(address)).status)
  t.same(statuses, Array<number>(WS_UPGRADE_LIMIT.perAddress).fill(101))
  const refused = await upgradeFrom(address)
  t.equal(refused.status, 429)
  t.match(JSON.parse(refused.body), {
    success: false,
    code: 'RATE_LIMIT_EXCEEDED',
    error: String,
    details: { retryAfter: Number, limit: WS_UPGRADE_LIMIT.perAddress, remaining: 0, resetAt: String },
    timestamp: String
  })
  t.equal((await upgradeFrom(`198.51.100.${process.pid % 250}`)).status, 101, 'another address is not affected')
})
