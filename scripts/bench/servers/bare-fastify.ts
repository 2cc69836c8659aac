import Fastify from 'fastify'

// The machine's ceiling for an HTTP JSON POST: Fastify with a schema and nothing else.
const app = Fastify({ logger: false })
app.post('/echo', {
  schema: {
    body: { type: 'object', properties: { content: { type: 'string', maxLength: 10000 } }, required: ['content'] },
    response: { 201: { type: 'object', properties: { success: { type: 'boolean' }, data: { type: 'object', additionalProperties: true }, timestamp: { type: 'string' } } } }
  }
}, async (request, reply) => {
  const { content } = request.body as { content: string }
  return await reply.code(201).send({ success: true, data: { length: content.length }, timestamp: new Date().toISOString() })
})
app.get('/health', async () => ({ ok: true }))
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
