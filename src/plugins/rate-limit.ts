import fp from 'fastify-plugin'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../lib/app-error.ts'
import { fixedWindowCounter } from '../lib/fixed-window.ts'
import { rateLimitKey } from '../lib/store/keys.ts'
import type { Store } from '../lib/store/store.ts'

/** Seed 01 §9 HTTP limits per user per minute, before RATE_LIMIT_SCALE. */
export const HTTP_RATE_LIMITS = {
  send: 30,
  edit: 10,
  reactions: 60,
  search: 20,
  other: 100,
  /** The E2E key directory (seed 05 §6 asks for a limit of its own): uploads, reads, verifications. */
  keys: 60,
  /** Attachment uploads (each up to ATTACHMENT_MAX_BYTES). */
  uploads: 30,
  /** Unauthenticated auth endpoints, per client IP. */
  auth: 20
} as const
export type RateLimitCategory = keyof typeof HTTP_RATE_LIMITS
export const RATE_LIMIT_WINDOW_MS = 60_000

declare module 'fastify' {
  interface FastifyInstance {
    /** Route config for a limit category: `config: { rateLimit: fastify.rateLimitCategory('send') }`. */
    rateLimitCategory: (category: RateLimitCategory) => RateLimitOptions
    /**
     * Counts one more hit of a user in a category's window, beside the one its route counted: a
     * request that does the work of several (a forward to several groups is a send per target).
     * Throws RATE_LIMIT_EXCEEDED past the limit; lets it through when the store is down.
     */
    takeRateLimit: (category: RateLimitCategory, userId: number) => Promise<void>
  }
}

/**
 * A store whose keys are the whole story: category and who (rateLimitKey). The stock stores
 * namespace keys by route, but a category (send, reactions…) spans several routes and must
 * share one budget; and on a single node the windows live in the in-process store, swept and
 * bounded like the rest of its state.
 */
function categoryStore (store: Store) {
  const countHit = fixedWindowCounter(store)
  return class CategoryStore {
    incr (key: string, callback: (error: Error | null, result?: { current: number, ttl: number }) => void, timeWindow: number = RATE_LIMIT_WINDOW_MS): void {
      countHit(key, timeWindow).then(
        ([current, ttl]) => { callback(null, { current, ttl }) },
        (err: Error) => { callback(err) }
      )
    }

    child (): CategoryStore {
      return this
    }
  }
}

function whoIs (request: FastifyRequest): string {
  const user = request.user as { id?: number } | undefined
  return user?.id !== undefined ? `u${user.id}` : `ip${request.ip}`
}

export interface RateLimitPluginOptions {
  scale: number
}

/**
 * Per-user limits by category, in the store so every instance shares them (Redis). They run at
 * preHandler, after authentication, so a signed-in caller is limited by user id, anyone else
 * by client IP (which honours TRUST_PROXY only).
 */
export default fp<RateLimitPluginOptions>(async function rateLimitPlugin (fastify, opts) {
  const limitOf = (category: RateLimitCategory): number => Math.max(1, Math.floor(HTTP_RATE_LIMITS[category] * opts.scale))

  await fastify.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: limitOf('other'),
    timeWindow: RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => rateLimitKey('other', whoIs(request)),
    // Redis is best effort: an outage must not turn into refused requests.
    skipOnError: true,
    store: categoryStore(fastify.store),
    errorResponseBuilder: (_request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000))
      return new AppError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded. Please slow down.', {
        retryAfter,
        limit: context.max,
        remaining: 0,
        resetAt: new Date(fastify.clock.now() + context.ttl).toISOString()
      })
    }
  })

  const countHit = fixedWindowCounter(fastify.store)
  fastify.decorate('takeRateLimit', async (category: RateLimitCategory, userId: number): Promise<void> => {
    const max = limitOf(category)
    let count: number
    let ttl: number
    try {
      [count, ttl] = await countHit(rateLimitKey(category, `u${userId}`), RATE_LIMIT_WINDOW_MS)
    } catch {
      return
    }
    if (count <= max) return
    throw new AppError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded. Please slow down.', {
      retryAfter: Math.max(1, Math.ceil(ttl / 1000)),
      limit: max,
      remaining: 0,
      resetAt: new Date(fastify.clock.now() + ttl).toISOString()
    })
  })

  fastify.decorate('rateLimitCategory', (category: RateLimitCategory): RateLimitOptions => ({
    max: limitOf(category),
    timeWindow: RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => rateLimitKey(category, whoIs(request))
  }))
}, { name: 'rate-limit', dependencies: ['store'] })
