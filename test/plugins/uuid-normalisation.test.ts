import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import uuidNormalisation from '../../src/plugins/uuid-normalisation.ts'

// DESIGN §6: a route's UUIDs are lower-cased where they enter, in params, querystring and body,
// before validation and before any hook or handler reads them; nothing else is touched.

const UPPER = 'A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D'
const LOWER = UPPER.toLowerCase()

async function build (t: { teardown: (fn: () => unknown) => void }): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(uuidNormalisation)
  app.addSchema(Type.Object({ parentId: Type.String({ format: 'uuid' }), content: Type.String() }, { $id: 'EchoBody' }))
  return app
}

t.test('params, querystring and body fields of format uuid reach hooks and handlers in lower case', async (t) => {
  const app = await build(t)
  const seen: string[] = []
  app.post('/groups/:groupId', {
    schema: {
      params: Type.Object({ groupId: Type.String({ format: 'uuid' }) }),
      querystring: Type.Object({ before: Type.Optional(Type.String({ format: 'uuid' })), q: Type.Optional(Type.String()) }),
      body: Type.Ref('EchoBody')
    },
    preValidation: async (request) => { seen.push((request.params as { groupId: string }).groupId) }
  }, async (request) => ({ params: request.params, query: request.query, body: request.body }))
  const res = await app.inject({ method: 'POST', url: `/groups/${UPPER}?before=${UPPER}&q=${UPPER}`, payload: { parentId: UPPER, content: UPPER } })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { params: { groupId: LOWER }, query: { before: LOWER, q: UPPER }, body: { parentId: LOWER, content: UPPER } })
  t.same(seen, [LOWER], 'the route\'s own preValidation hook already sees the lower-case id')
})

t.test('a malformed id is left for validation to refuse', async (t) => {
  const app = await build(t)
  app.get('/groups/:groupId', { schema: { params: Type.Object({ groupId: Type.String({ format: 'uuid' }) }) } }, async () => ({ ok: true }))
  const res = await app.inject({ method: 'GET', url: '/groups/NOT-A-UUID' })
  t.equal(res.statusCode, 400)
})

t.test('a body that is not an object is left for validation to refuse', async (t) => {
  const app = await build(t)
  app.post('/echo', { schema: { body: Type.Ref('EchoBody') } }, async (request) => request.body)
  const res = await app.inject({ method: 'POST', url: '/echo', payload: JSON.stringify(UPPER), headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 400)
})
