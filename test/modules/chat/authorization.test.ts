import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

const UNKNOWN_GROUP = '01890a5d-ac96-774b-bcce-b302099a8057'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** Every chat endpoint of seed 01 §4 this area serves, with a valid body. */
function routes (groupId: string, messageId: string): Array<[Method, string, object | undefined]> {
  const base = `/groups/${groupId}/chat`
  return [
    ['POST', `${base}/messages`, { content: 'hi' }],
    ['GET', `${base}/messages`, undefined],
    ['GET', `${base}/messages/${messageId}`, undefined],
    ['PUT', `${base}/messages/${messageId}`, { content: 'edited' }],
    ['DELETE', `${base}/messages/${messageId}`, undefined],
    ['POST', `${base}/messages/${messageId}/reactions`, { emoji: '👍' }],
    ['DELETE', `${base}/messages/${messageId}/reactions/%F0%9F%91%8D`, undefined],
    ['GET', `${base}/messages/${messageId}/reactions`, undefined],
    ['POST', `${base}/read`, { messageId }],
    ['GET', `${base}/unread`, undefined],
    ['POST', `${base}/messages/${messageId}/pin`, { note: 'n' }],
    ['DELETE', `${base}/messages/${messageId}/pin`, undefined],
    ['GET', `${base}/pinned`, undefined],
    ['GET', `${base}/search?q=hello`, undefined]
  ]
}

t.test('a non-member gets 403 FORBIDDEN on every chat endpoint and changes nothing', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hello members')
  for (const [method, path, body] of routes(g.groupId, m.id)) {
    const res = await call(app, g.outsider, method, path, body)
    t.equal(res.statusCode, 403, `${method} ${path}`)
    t.match(res.json(), { success: false, code: 'FORBIDDEN' }, `${method} ${path}`)
  }
  const message = dataOf<{ message: { content: string, isDeleted: boolean, reactions: unknown[] } }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message
  t.match(message, { content: 'hello members', isDeleted: false, reactions: [] })
})

t.test('an unknown group answers 404 NOT_FOUND on every chat endpoint', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hello')
  for (const [method, path, body] of routes(UNKNOWN_GROUP, m.id)) {
    const res = await call(app, g.owner, method, path, body)
    t.equal(res.statusCode, 404, `${method} ${path}`)
    t.match(res.json(), { success: false, code: 'NOT_FOUND' }, `${method} ${path}`)
  }
})

t.test('without a token every chat endpoint answers 401 UNAUTHORIZED', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hello')
  for (const [method, path, body] of routes(g.groupId, m.id)) {
    const res = await app.inject({ method, url: `${app.config.apiPrefix}${path}`, ...(body !== undefined ? { payload: body } : {}) })
    t.equal(res.statusCode, 401, `${method} ${path}`)
    t.match(res.json(), { success: false, code: 'UNAUTHORIZED' }, `${method} ${path}`)
  }
})

t.test('a malformed group id is a validation error on every chat endpoint', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'hello')
  for (const [method, path, body] of routes('not-a-uuid', m.id)) {
    const res = await call(app, g.owner, method, path, body)
    t.equal(res.statusCode, 400, `${method} ${path}`)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'groupId' }] }, `${method} ${path}`)
  }
})

t.test('a member who left loses access at once', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.members[0]!, g.groupId, 'before leaving')
  dataOf(await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/leave`))
  t.equal((await call(app, g.members[0]!, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).statusCode, 403)
  t.equal((await call(app, g.members[0]!, 'POST', `/groups/${g.groupId}/chat/messages`, { content: 'after' })).statusCode, 403)
})
