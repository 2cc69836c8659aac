import t from 'tap'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRedis } from '../../../src/lib/store/store.ts'
import { redisClaims } from '../../../src/lib/store/tickets.ts'
import { AppError } from '../../../src/lib/app-error.ts'
import { countLinks, createSpamCheck, keywordMatcher, SPAM_RULES } from '../../../src/modules/moderation/spam.ts'
import { recentContentClaims } from '../../../src/modules/moderation/spam-duplicates.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { call, createChatGroup, dataOf } from '../../helpers/api.ts'
import { connectWs } from '../../helpers/ws.ts'

// The spam rules of sends (issue 13): pure text rules, and the duplicate rule on Redis.
const scratch = mkdtempSync(join(tmpdir(), 'parley-spam-'))
t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })
const keywordsFile = join(scratch, 'keywords.txt')
writeFileSync(keywordsFile, '# blocked\ncasino\nfree money\n')

const app = await buildTestApp(t, import.meta.url, { env: { SPAM_KEYWORDS_FILE: keywordsFile } })
const checkSpam = app.spamCheck
const silent = app.log

/** A fresh group id per test: duplicate claims of one test never meet another's. */
const group = (): string => randomUUID()

async function refusal (work: Promise<unknown>): Promise<AppError | null> {
  try {
    await work
    return null
  } catch (err) {
    if (err instanceof AppError) return err
    throw err
  }
}

t.test('links are counted: http and https URLs and bare www. hosts', async (t) => {
  t.equal(countLinks('see https://a.example/x, http://b.example and www.c.example.'), 3)
  t.equal(countLinks('no links here, not even example.com'), 0)
})

t.test('a message with more than 5 links is refused with SPAM_DETECTED (422) and nothing else', async (t) => {
  const six = Array.from({ length: SPAM_RULES.maxLinks + 1 }, (_, i) => `https://l${i}.example`).join(' ')
  const err = await refusal(checkSpam({ groupId: group(), senderId: 1, content: six }))
  t.equal(err?.code, 'SPAM_DETECTED')
  t.equal(err?.statusCode, 422)
  t.match(err?.details, { rule: 'links', links: 6, maxLinks: 5 })
})

t.test('a message with exactly 5 links passes', async (t) => {
  const five = Array.from({ length: SPAM_RULES.maxLinks }, (_, i) => `https://l${i}.example`).join(' ')
  t.equal(await refusal(checkSpam({ groupId: group(), senderId: 1, content: five })), null)
})

t.test('a word or phrase of SPAM_KEYWORDS_FILE is refused whatever its case', async (t) => {
  for (const content of ['Best CASINO in town', 'get FREE   money now', 'ｃａｓｉｎｏ']) {
    const err = await refusal(checkSpam({ groupId: group(), senderId: 1, content }))
    t.match(err?.details, { rule: 'keyword' }, content)
  }
})

t.test('a keyword matches whole words only', async (t) => {
  const matches = keywordMatcher(['ass', 'free money'])
  t.notOk(matches('a classic passage'), 'inside other words it does not match')
  t.notOk(matches('free moneybox'))
  t.ok(matches('what an ass!'))
  t.notOk(keywordMatcher([])('anything'), 'an empty list matches nothing')
})

t.test('the same content from the same sender in the same group within 5 s is refused', async (t) => {
  const groupId = group()
  t.equal(await refusal(checkSpam({ groupId, senderId: 7, content: 'Hello there' })), null, 'the first passes')
  const err = await refusal(checkSpam({ groupId, senderId: 7, content: '  hello   THERE ' }))
  t.equal(err?.code, 'SPAM_DETECTED')
  t.match(err?.details, { rule: 'duplicate', windowMs: 5000 }, 'case and spacing do not make it different')
})

t.test('the same content from another sender or in another group is not a duplicate', async (t) => {
  const groupId = group()
  await checkSpam({ groupId, senderId: 7, content: 'lunch?' })
  t.equal(await refusal(checkSpam({ groupId, senderId: 8, content: 'lunch?' })), null, 'another sender')
  t.equal(await refusal(checkSpam({ groupId: group(), senderId: 7, content: 'lunch?' })), null, 'another group')
})

t.test('a retry with the same clientMessageId is not a duplicate; another clientMessageId is', async (t) => {
  const groupId = group()
  await checkSpam({ groupId, senderId: 7, content: 'on my way', clientMessageId: 'c-1' })
  t.equal(await refusal(checkSpam({ groupId, senderId: 7, content: 'on my way', clientMessageId: 'c-1' })), null)
  t.match(await refusal(checkSpam({ groupId, senderId: 7, content: 'on my way', clientMessageId: 'c-2' })), { code: 'SPAM_DETECTED' })
})

t.test('a message refused for its links does not count as sent for the duplicate rule', async (t) => {
  const groupId = group()
  const links = Array.from({ length: 6 }, (_, i) => `https://l${i}.example`).join(' ')
  await refusal(checkSpam({ groupId, senderId: 7, content: links }))
  t.match(await refusal(checkSpam({ groupId, senderId: 7, content: links })), { details: { rule: 'links' } })
})

t.test('the duplicate rule is shared by every instance through Redis and expires with its window', async (t) => {
  const one = createRedis('redis://127.0.0.1:6379', app.config.redisKeyPrefix)
  const two = createRedis('redis://127.0.0.1:6379', app.config.redisKeyPrefix)
  t.teardown(() => { one.disconnect(); two.disconnect() })
  const claim = { groupId: group(), senderId: 3, contentHash: 'h'.repeat(64), clientMessageId: null, windowMs: 300 }
  t.same(await recentContentClaims(redisClaims(one), silent)(claim), { repeated: false })
  t.same(await recentContentClaims(redisClaims(two), silent)(claim), { repeated: true }, 'another instance sees the first claim')
  // Real time on purpose: the window is the expiry of a Redis key, on Redis's clock.
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.same(await recentContentClaims(redisClaims(two), silent)(claim), { repeated: false }, 'after the window it is new again')
})

t.test('while Redis does not answer, the duplicate rule lets messages through', async (t) => {
  const down = createRedis('redis://127.0.0.1:1', 'nowhere:')
  down.on('error', () => {})
  t.teardown(() => { down.disconnect() })
  const check = createSpamCheck({ keywords: [], claimRecentContent: recentContentClaims(redisClaims(down), silent) })
  const groupId = group()
  t.equal(await refusal(check({ groupId, senderId: 1, content: 'same' })), null)
  t.equal(await refusal(check({ groupId, senderId: 1, content: 'same' })), null)
})

/** The group's stored messages, counted in the database. */
async function storedCount (groupId: string): Promise<number> {
  const row = await app.db.selectFrom('mirror_group_messages').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  return Number(row.n)
}

t.test('REST sends break the rules with 422 SPAM_DETECTED and store nothing; admins are not exempt', async (t) => {
  const { groupId, owner, members: [member] } = await createChatGroup(app, { memberCount: 1 })
  const send = async (who: typeof owner, body: object): Promise<{ statusCode: number, json: () => unknown }> =>
    await call(app, who, 'POST', `/groups/${groupId}/chat/messages`, body)

  const links = await send(member!, { content: Array.from({ length: 6 }, (_, i) => `https://l${i}.example`).join(' ') })
  t.equal(links.statusCode, 422)
  t.match(links.json(), { success: false, code: 'SPAM_DETECTED', details: { rule: 'links' } })
  t.match((await send(owner, { content: 'cheap casino chips' })).json(), { code: 'SPAM_DETECTED', details: { rule: 'keyword' } }, 'the owner too')

  t.equal((await send(owner, { content: 'good morning' })).statusCode, 201)
  t.match((await send(owner, { content: 'Good  morning' })).json(), { code: 'SPAM_DETECTED', details: { rule: 'duplicate' } })
  t.equal(await storedCount(groupId), 1, 'only the first good morning is stored')
})

t.test('a retried REST send with the same clientMessageId answers 201 with the original, not SPAM_DETECTED', async (t) => {
  const { groupId, members: [member] } = await createChatGroup(app, { memberCount: 1 })
  const body = { content: 'see you at noon', clientMessageId: 'retry-1' }
  const first = dataOf<{ message: { id: string } }>(await call(app, member!, 'POST', `/groups/${groupId}/chat/messages`, body))
  const retry = await call(app, member!, 'POST', `/groups/${groupId}/chat/messages`, body)
  t.equal(retry.statusCode, 201)
  t.equal((retry.json() as { data: { message: { id: string } } }).data.message.id, first.message.id)
  t.equal(await storedCount(groupId), 1)
})

t.test('a refused send (bad parentMessageId) does not count for the duplicate rule', async (t) => {
  const { groupId, members: [member] } = await createChatGroup(app, { memberCount: 1 })
  const refused = await call(app, member!, 'POST', `/groups/${groupId}/chat/messages`, { content: 'answer', parentMessageId: randomUUID() })
  t.equal(refused.statusCode, 400)
  t.equal((await call(app, member!, 'POST', `/groups/${groupId}/chat/messages`, { content: 'answer' })).statusCode, 201)
})

t.test('a WebSocket send that breaks a rule gets chat:error SPAM_DETECTED and stores nothing', async (t) => {
  const { groupId, members: [member] } = await createChatGroup(app, { memberCount: 1 })
  const ws = await connectWs(app, { token: member!.token })
  t.teardown(async () => { await ws.close() })
  await ws.request('chat:join_group', { groupId })
  t.equal((await ws.request('chat:send_message', { groupId, content: 'free money inside' })).type, 'chat:error')
  t.match(ws.frames.at(-1)?.payload, { code: 'SPAM_DETECTED', details: { rule: 'keyword' } })
  t.equal((await ws.request('chat:send_message', { groupId, content: 'hi all' })).type, 'chat:ack')
  const again = await ws.request('chat:send_message', { groupId, content: 'hi all' })
  t.match(again, { type: 'chat:error', payload: { code: 'SPAM_DETECTED', details: { rule: 'duplicate' } } })
  t.equal(await storedCount(groupId), 1)
})
