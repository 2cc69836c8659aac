import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sharedSchemas } from '../../schemas/index.ts'
import { ClientFrames, ServerFrame, WS_CLOSE_CODES, wsFrameSchemas } from '../../schemas/ws.ts'

/*
 * The AsyncAPI 3 document of the WebSocket protocol, generated from schemas/ws.ts (DESIGN §2:
 * the schemas are the single source). Client frames are what the server receives, server
 * frames what it sends; every payload schema is the TypeBox schema itself, its references to
 * shared schemas resolved into components.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

export interface AsyncApiOptions {
  wsPath: string
  /** host[:port] of the documented server. */
  host?: string
}

const componentPath = (id: string): string => `#/components/schemas/${id}`

/**
 * A schema as plain JSON Schema: TypeBox's symbols dropped, `$id`s removed (a component's
 * name is its key), and `$ref: "X"` pointed at `#/components/schemas/X`.
 */
function toJsonSchema (schema: TSchema, referenced: Set<string>): JsonObject {
  const walk = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(walk)
    if (value === null || typeof value !== 'object') return value
    const out: JsonObject = {}
    for (const [key, child] of Object.entries(value)) {
      if (key === '$id') continue
      if (key === '$ref' && typeof child === 'string' && !child.startsWith('#')) {
        referenced.add(child)
        out.$ref = componentPath(child)
        continue
      }
      out[key] = walk(child)
    }
    return out
  }
  return walk(JSON.parse(JSON.stringify(schema)) as Json) as JsonObject
}

const idOf = (schema: TSchema): string => {
  if (typeof schema.$id !== 'string') throw new Error('Every WebSocket frame schema needs an $id')
  return schema.$id
}

const typeOf = (schema: TSchema): string => {
  const type = (schema.properties as Record<string, { const?: unknown }> | undefined)?.type?.const
  if (typeof type !== 'string') throw new Error(`Frame ${idOf(schema)} has no literal type`)
  return type
}

/** Builds the document. */
export function buildAsyncApiDocument (options: AsyncApiOptions): JsonObject & { asyncapi: string } {
  const referenced = new Set<string>()
  const schemas: JsonObject = {}
  const messages: JsonObject = {}
  const channelMessages: JsonObject = {}
  const operations: JsonObject = {}

  const addFrame = (schema: TSchema, direction: 'receive' | 'send'): void => {
    const id = idOf(schema)
    schemas[id] = toJsonSchema(schema, referenced)
    const message: JsonObject = {
      name: typeOf(schema),
      title: typeOf(schema),
      contentType: 'application/json',
      payload: { $ref: componentPath(id) }
    }
    if (typeof schema.description === 'string') message.summary = schema.description
    messages[id] = message
    channelMessages[id] = { $ref: `#/components/messages/${id}` }
    operations[`${direction}${id}`] = {
      action: direction,
      channel: { $ref: '#/channels/chat' },
      summary: direction === 'receive' ? `Client → server: ${typeOf(schema)}` : `Server → client: ${typeOf(schema)}`,
      messages: [{ $ref: `#/channels/chat/messages/${id}` }]
    }
  }

  for (const frame of ClientFrames) addFrame(frame, 'receive')
  for (const frame of ServerFrame.anyOf) addFrame(frame, 'send')

  // Shared schemas the frames point at, and the ones those point at in turn.
  const byId = new Map([...sharedSchemas, ...wsFrameSchemas].filter((s) => typeof s.$id === 'string').map((s) => [s.$id as string, s]))
  const pending = [...referenced]
  while (pending.length > 0) {
    const id = pending.pop() as string
    if (id in schemas) continue
    const schema = byId.get(id)
    if (schema === undefined) throw new Error(`A WebSocket frame references ${id}, which is not a shared schema`)
    const before = new Set(referenced)
    schemas[id] = toJsonSchema(schema, referenced)
    for (const next of referenced) if (!before.has(next)) pending.push(next)
  }

  const closeCodes = Object.entries(WS_CLOSE_CODES).map(([name, code]) => `${code} (${name})`).join(', ')
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley WebSocket API',
      version: '0.1.0',
      description: [
        'The real-time protocol of seed 01 §5 with the DESIGN §5 additions. Every frame is JSON',
        '`{type, payload, requestId?}`; a command with a requestId is answered by chat:ack or chat:error',
        'with the same requestId. Authenticate with `?token=` (access JWT), `?ticket=` (POST /auth/ws-ticket)',
        `or a first \`{type: "auth", token}\` frame within 5 s. Close codes: ${closeCodes}.`
      ].join(' ')
    },
    defaultContentType: 'application/json',
    servers: {
      parley: {
        host: options.host ?? 'localhost:3000',
        protocol: 'ws',
        pathname: options.wsPath,
        description: 'A Parley instance (wss behind TLS)'
      }
    },
    channels: {
      chat: {
        address: options.wsPath,
        title: 'The chat connection',
        servers: [{ $ref: '#/servers/parley' }],
        messages: channelMessages,
        bindings: {
          ws: {
            bindingVersion: '0.1.0',
            query: {
              type: 'object',
              properties: {
                token: { type: 'string', description: 'An access token (JWT)' },
                ticket: { type: 'string', description: 'A single-use ticket from POST /auth/ws-ticket, valid 30 s' }
              }
            }
          }
        }
      }
    },
    operations,
    components: { schemas, messages }
  }
}

const AsyncApiDocument = Type.Object({ asyncapi: Type.String() }, { additionalProperties: true })

/** Serves the document at /asyncapi.json (outside the API prefix, beside /docs). */
export const asyncApiRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const document = buildAsyncApiDocument({ wsPath: fastify.config.ws.path })
  fastify.get('/asyncapi.json', {
    schema: { tags: ['ops'], summary: 'AsyncAPI 3 document of the WebSocket protocol', response: { 200: AsyncApiDocument } }
  }, async () => document)
}
