import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { sharedSchemas } from '../../schemas/index.ts'

export interface DocsPluginOptions {
  apiPrefix: string
}

/**
 * Registers every shared schema once (routes reference them by `$id`) and serves the OpenAPI
 * document built from the route schemas at /docs/json, with the UI at /docs.
 */
export default fp<DocsPluginOptions>(async function docsPlugin (fastify) {
  for (const schema of sharedSchemas) fastify.addSchema(schema)

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        description: 'Real-time group chat backend. REST under the API prefix; WebSocket protocol in /asyncapi.json.',
        version: '0.1.0'
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
      }
    },
    // Components keep the names of the schemas' $ids instead of def-0, def-1…
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'docs' })
