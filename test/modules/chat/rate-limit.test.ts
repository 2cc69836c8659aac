import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { call, createChatGroup, sendMessage } from '../../helpers/api.ts'

// The seed 01 §9 limits exactly (RATE_LIMIT_SCALE 1).
const app = await buildTestApp(t, import.meta.url)

t.test('the 31st send in a minute answers 429 RATE_LIMIT_EXCEEDED with the details and headers', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 30; i++) {
    const res = await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: `message ${i}` })
    t.equal(res.statusCode, 201, `send ${i}`)
  }
  const res = await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'one too many' })
  t.equal(res.statusCode, 429)
  const body = res.json()
  t.match(body, { success: false, code: 'RATE_LIMIT_EXCEEDED', details: { limit: 30, remaining: 0 } })
  t.ok(body.details.retryAfter >= 1 && body.details.retryAfter <= 60, 'retryAfter in seconds within the window')
  t.ok(Date.parse(body.details.resetAt) > Date.now(), 'resetAt in the future')
  t.equal(res.headers['x-ratelimit-limit'], '30')
  t.equal(res.headers['x-ratelimit-remaining'], '0')
  t.ok(res.headers['retry-after'])
  const other = await call(app, g.members[1]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'someone else' })
  t.equal(other.statusCode, 201, 'the limit is per user')
  const reading = await call(app, g.members[0]!, 'GET', `/groups/${g.groupId}/chat/messages?limit=1`)
  t.equal(reading.statusCode, 200, 'other categories keep their own budget')
})

t.test('edits are limited to 10 a minute', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'draft')
  for (let i = 1; i <= 10; i++) {
    t.equal((await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: `draft ${i}` })).statusCode, 200)
  }
  const res = await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'draft 11' })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: 10 } })
})

t.test('searches are limited to 20 a minute', async (t) => {
  const g = await createChatGroup(app)
  for (let i = 1; i <= 20; i++) {
    t.equal((await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/search?q=hello`)).statusCode, 200)
  }
  const res = await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/search?q=hello`)
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: 20 } })
})

t.test('adding and removing reactions share a budget of 60 a minute', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'react')
  const url = `/groups/${g.groupId}/chat/messages/${m.id}/reactions`
  for (let i = 1; i <= 30; i++) {
    t.equal((await call(app, g.admin, 'POST', url, { emoji: '👍' })).statusCode, 200)
    t.equal((await call(app, g.admin, 'DELETE', `${url}/%F0%9F%91%8D`)).statusCode, 200)
  }
  const res = await call(app, g.admin, 'POST', url, { emoji: '👍' })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { code: 'RATE_LIMIT_EXCEEDED', details: { limit: 60 } })
})
