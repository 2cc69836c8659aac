import { SerializerSelector, type SerializerFactory, type Serializer } from '@fastify/fast-json-stringify-compiler'

/**
 * Fastify's response serializers (fast-json-stringify, as by default), built once per distinct
 * response schema and on a route's first answer with that status, not at start-up.
 *
 * Fastify builds one serializer per route and status when the app becomes ready, and every
 * build validates and indexes all the shared schemas again: with ~100 routes, each declaring
 * its error answers, that was ~600 builds and ~5 s of CPU per start (per test app too). Most
 * of those schemas are the same (the error envelope), so one build serves them all, and a
 * route nobody calls costs nothing. The schemas themselves are still checked whole at
 * start-up: the OpenAPI document is built from them (GET /docs/json, `npm run export:openapi`).
 */
export function sharedLazySerializers (): SerializerFactory {
  const selectDefault = SerializerSelector()
  return (externalSchemas, options) => {
    const compile = selectDefault(externalSchemas, options)
    const built = new Map<string, Serializer>()
    return (route) => {
      const key = JSON.stringify(route.schema)
      let serializer: Serializer | undefined
      return (payload: unknown) => {
        if (serializer === undefined) {
          serializer = built.get(key) ?? compile(route)
          built.set(key, serializer)
        }
        return serializer(payload)
      }
    }
  }
}
