import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, preValidationHookHandler, RouteOptions } from 'fastify'
import { uuidNormaliser, type UuidNormaliser } from '../lib/uuid-normalisation.ts'

/*
 * REST half of "UUIDs are lower-cased where they enter" (DESIGN §6; the WebSocket half is in
 * realtime/frames.ts). Each route whose params, querystring or body schema declares a
 * `format: 'uuid'` string gets one preValidation hook that lower-cases exactly those fields,
 * before validation and before any preHandler (the membership guard) reads them. Routes that
 * declare none pay nothing. Registered before every route: hooks added by onRoute only see
 * routes declared after them.
 */

type Part = 'params' | 'query' | 'body'

function normalisersOf (route: RouteOptions, resolve: (id: string) => unknown): Array<[Part, UuidNormaliser]> {
  const schema = route.schema
  if (schema === undefined) return []
  const declared: Array<[Part, unknown]> = [['params', schema.params], ['query', schema.querystring], ['body', schema.body]]
  const found: Array<[Part, UuidNormaliser]> = []
  for (const [part, partSchema] of declared) {
    if (partSchema === undefined) continue
    const normalise = uuidNormaliser(partSchema, resolve)
    if (normalise !== null) found.push([part, normalise])
  }
  return found
}

function lowerCaseUuids (normalisers: Array<[Part, UuidNormaliser]>): preValidationHookHandler {
  return function lowerCaseUuids (request: FastifyRequest, _reply, done) {
    for (const [part, normalise] of normalisers) request[part] = normalise(request[part])
    done()
  }
}

export default fp(async function uuidNormalisationPlugin (fastify: FastifyInstance) {
  fastify.addHook('onRoute', function (this: FastifyInstance, route) {
    const normalisers = normalisersOf(route, (id) => this.getSchema(id))
    if (normalisers.length === 0) return
    const existing = route.preValidation === undefined ? [] : [route.preValidation].flat()
    route.preValidation = [lowerCaseUuids(normalisers), ...existing]
  })
}, { name: 'uuid-normalisation' })
