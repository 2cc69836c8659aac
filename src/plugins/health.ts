import fp from 'fastify-plugin'
import { sql } from 'kysely'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../schemas/common.ts'
import { AppError } from '../lib/app-error.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when shutdown starts: /ready answers 503 so load balancers drain this instance. */
    markDraining: () => void
    isDraining: () => boolean
  }
}

const CHECK_TIMEOUT_MS = 1500

async function withTimeout<T> (work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error('timed out')) }, CHECK_TIMEOUT_MS)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const Health = Type.Object({ status: Type.Literal('ok') })
const Readiness = Type.Object({
  status: Type.Literal('ready'),
  mysql: Type.Literal('up'),
  redis: Type.Union([Type.Literal('up'), Type.Literal('memory')])
})

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    schema: { tags: ['ops'], summary: 'Liveness', response: { 200: Envelope(Health) } },
    config: { rateLimit: false }
  }, async () => ({ success: true as const, data: { status: 'ok' as const }, timestamp: new Date().toISOString() }))

  fastify.get('/ready', {
    schema: {
      tags: ['ops'],
      summary: 'Readiness: MySQL and Redis reachable (redis: memory on a single node), not shutting down',
      response: { 200: Envelope(Readiness), 503: Ref(ErrorResponse) }
    },
    config: { rateLimit: false }
  }, async () => {
    const mysql = await withTimeout(sql`SELECT 1`.execute(fastify.db)).then(() => 'up', () => 'down')
    // 'memory' on a single node (REDIS_URL=memory): the in-process store is always there.
    const redis = await withTimeout(fastify.store.check()).catch(() => 'down' as const)
    if (fastify.isDraining() || mysql !== 'up' || redis === 'down') {
      throw new AppError('SERVICE_UNAVAILABLE', 'Not ready', { mysql, redis, draining: fastify.isDraining() })
    }
    return {
      success: true as const,
      data: { status: 'ready' as const, mysql: 'up' as const, redis },
      timestamp: new Date().toISOString()
    }
  })
}

/** /health (the process answers) and /ready (its dependencies answer). */
export default fp(async function healthPlugin (fastify) {
  let draining = false
  fastify.decorate('markDraining', () => { draining = true })
  fastify.decorate('isDraining', () => draining)
  await fastify.register(healthRoutes)
}, { name: 'health', dependencies: ['db', 'store'] })
