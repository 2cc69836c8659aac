import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import type { Config } from './config.ts'
import { sharedLazySerializers } from './lib/response-serializers.ts'
import { systemClock, type Clock } from './lib/clock.ts'
import { redactUrl, serializeError } from './lib/redact.ts'
import dbPlugin from './plugins/db.ts'
import cryptoPlugin from './plugins/crypto.ts'
import storePlugin from './plugins/store.ts'
import authPlugin from './plugins/auth.ts'
import rateLimitPlugin from './plugins/rate-limit.ts'
import errorsPlugin from './plugins/errors.ts'
import busPlugin from './plugins/bus.ts'
import docsPlugin from './plugins/docs.ts'
import healthPlugin from './plugins/health.ts'
import overloadPlugin from './plugins/overload.ts'
import uuidNormalisationPlugin from './plugins/uuid-normalisation.ts'
import metricsPlugin, { metricsRoute } from './plugins/metrics.ts'
import securityPlugin from './plugins/security.ts'
import demoPlugin from './plugins/demo.ts'
import authService from './modules/auth/service.ts'
import userService from './modules/users/service.ts'
import membershipPlugin from './modules/membership/service.ts'
import groupService from './modules/groups/service.ts'
import authRoutes from './modules/auth/routes.ts'
import userRoutes from './modules/users/routes.ts'
import groupRoutes from './modules/groups/routes.ts'
import chatListPlugin from './modules/chat-list/service.ts'
import chatServicePlugin from './modules/chat/service.ts'
import notificationJobs from './modules/notifications/jobs.ts'
import notificationService from './modules/notifications/service.ts'
import notificationRoutes from './modules/notifications/routes.ts'
import sendBatcherPlugin from './modules/chat/send-batcher-plugin.ts'
import chatRoutes from './modules/chat/routes.ts'
import crossGroupChatRoutes from './modules/chat/cross-routes.ts'
import presenceService from './modules/presence/service.ts'
import presenceRoutes from './modules/presence/routes.ts'
import presenceWs from './modules/presence/ws.ts'
import chatWs from './modules/chat/ws.ts'
import gateway from './realtime/gateway.ts'
import adminService from './modules/admins/service.ts'
import moderationService from './modules/moderation/service.ts'
import spamCheck from './modules/moderation/spam-plugin.ts'
import reportRoutes from './modules/moderation/routes.ts'
import adminRoutes from './modules/moderation/admin-routes.ts'
import keyService from './modules/keys/service.ts'
import keyRoutes from './modules/keys/routes.ts'
import opsService from './modules/ops/service.ts'
import opsRoutes from './modules/ops/routes.ts'
import { asyncApiRoutes } from './realtime/asyncapi.ts'
import attachmentService from './modules/attachments/service.ts'
import attachmentRoutes from './modules/attachments/routes.ts'
import chatManagementService from './modules/chat-management/service.ts'
import { accountChatRoutes, chatManagementRoutes } from './modules/chat-management/routes.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** Time for presence, typing, rate limits and the in-process store: the real one but in tests. */
    clock: Clock
  }
}

export interface BuildOptions {
  /** Where log lines go; tests pass a stream to read them. Defaults to stdout. */
  logStream?: NodeJS.WritableStream
  /** The time presence, typing, rate limits and the in-process store run on; tests move their own. */
  clock?: Clock
}

/** The slowest average rate an attachment upload may arrive at before the request times out. */
export const MIN_UPLOAD_BYTES_PER_SECOND = 256 * 1024

/**
 * How long a whole request may take to arrive: 30 s, or longer when the largest attachment
 * needs it at MIN_UPLOAD_BYTES_PER_SECOND (100 s for 25 MiB). Node applies one limit to every
 * request of the server, so the upload route sets it.
 */
export function requestTimeoutMs (config: Config): number {
  return Math.max(30_000, Math.ceil(config.attachments.maxBytes / MIN_UPLOAD_BYTES_PER_SECOND) * 1000)
}

/** Fastify's own options: logging with secrets redacted, request ids, proxy trust, limits. */
export function serverOptions (config: Config, options: BuildOptions = {}): FastifyServerOptions {
  return {
    logger: {
      level: config.logLevel,
      ...(options.logStream !== undefined ? { stream: options.logStream } : {}),
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]', 'res.headers["set-cookie"]'],
        censor: '[REDACTED]'
      },
      serializers: {
        // Every logged error, wherever it is logged: database errors lose their inlined values.
        err: serializeError,
        req (request) {
          return {
            method: request.method,
            url: redactUrl(request.url),
            remoteAddress: request.ip,
            headers: request.headers
          }
        }
      }
    },
    genReqId: (request) => {
      const incoming = request.headers['x-request-id']
      return typeof incoming === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID()
    },
    requestIdHeader: false,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    bodyLimit: config.bodyLimitBytes,
    connectionTimeout: 30_000,
    requestTimeout: requestTimeoutMs(config),
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    schemaController: { compilersFactory: { buildSerializer: sharedLazySerializers() } }
  }
}

/** The whole application, exactly as production runs it; tests build it the same way. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, options)).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('config', config)
  app.decorate('clock', options.clock ?? systemClock)
  // Synchronous and at the start: every request pays for this hook, so it costs no promise.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    done()
  })

  // First: it lower-cases the UUIDs of every route declared after it.
  await app.register(uuidNormalisationPlugin)
  await app.register(securityPlugin, { corsOrigins: config.corsOrigins })
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize })
  await app.register(cryptoPlugin, { masterKey: config.encryptionMasterKey })
  await app.register(storePlugin, { url: config.redisUrl, keyPrefix: config.redisKeyPrefix })
  // Before every route it measures, and before the bus and the gateway, which count through it.
  await app.register(metricsPlugin)
  await app.register(docsPlugin, { apiPrefix: config.apiPrefix })
  await app.register(rateLimitPlugin, { scale: config.rateLimitScale })
  await app.register(errorsPlugin)
  await app.register(overloadPlugin, { ...config.overload, wsPath: config.ws.path })
  await app.register(authPlugin, { secret: config.jwt.secret, accessTtlSeconds: config.jwt.accessTtlSeconds, external: config.jwt.external })
  await app.register(busPlugin)
  await app.register(membershipPlugin)
  await app.register(attachmentService)
  await app.register(spamCheck)
  await app.register(notificationJobs)
  await app.register(sendBatcherPlugin)
  await app.register(chatServicePlugin)
  await app.register(healthPlugin)
  await app.register(authService)

  await app.register(userService)
  await app.register(groupService)
  await app.register(chatListPlugin)
  await app.register(presenceService)
  await app.register(chatManagementService)
  await app.register(notificationService)
  await app.register(adminService)
  await app.register(moderationService)
  await app.register(keyService)
  await app.register(gateway)
  await app.register(opsService)
  await app.register(chatWs)
  await app.register(presenceWs)
  await app.register(asyncApiRoutes)
  await app.register(opsRoutes)
  await app.register(metricsRoute, { token: config.metricsToken })

  await app.register(async function api (api) {
    await api.register(authRoutes, { prefix: '/auth' })
    await api.register(userRoutes, { prefix: '/users' })
    await api.register(groupRoutes, { prefix: '/groups' })
    await api.register(chatRoutes, { prefix: '/groups/:groupId/chat' })
    await api.register(presenceRoutes, { prefix: '/groups/:groupId/chat' })
    await api.register(reportRoutes, { prefix: '/groups/:groupId/chat' })
    await api.register(attachmentRoutes, { prefix: '/groups/:groupId/chat' })
    await api.register(chatManagementRoutes, { prefix: '/groups/:groupId/chat' })
    await api.register(accountChatRoutes)
    await api.register(keyRoutes, { prefix: '/chat/encryption' })
    await api.register(crossGroupChatRoutes, { prefix: '/chat' })
    await api.register(adminRoutes, { prefix: '/admin' })
    await api.register(notificationRoutes, { prefix: '/notifications' })
  }, { prefix: config.apiPrefix })
  if (config.serveDemo) await app.register(demoPlugin, { apiPrefix: config.apiPrefix, wsPath: config.ws.path })

  return app
}
