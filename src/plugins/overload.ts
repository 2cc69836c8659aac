import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../lib/app-error.ts'

export interface OverloadPluginOptions {
  /** Mean event-loop delay (ms) over a sample past which new work is refused; 0 turns the check off. */
  maxEventLoopDelayMs: number
  /** Event-loop utilization (0–1) over a sample past which new work is refused; 0 turns the check off. */
  maxEventLoopUtilization: number
  /** V8 heap in use (bytes) past which new work is refused; 0 turns the check off. */
  maxHeapUsedBytes: number
  /** How often the event loop and the heap are measured. */
  sampleIntervalMs: number
  /** What a refused client is told to wait (Retry-After, seconds). */
  retryAfterSeconds: number
  /** The WebSocket path: its upgrades are let through to the gateway, which closes them with 1013. */
  wsPath: string
}

/**
 * Routes that answer however loaded the instance is: liveness (an overloaded process is not a
 * dead one, and must not be restarted for it) and metrics (what shows the overload). /ready is
 * not among them: a 503 there tells the load balancer to send new clients elsewhere.
 */
const EXEMPT_ROUTES = new Set(['/health', '/metrics'])

const isUpgrade = (request: FastifyRequest): boolean => request.headers.upgrade?.toLowerCase() === 'websocket'

/**
 * Overload sheds instead of collapsing (@fastify/under-pressure): while the last sample of the
 * event loop or the heap is past its threshold, every new request is answered at once with 503
 * SERVICE_UNAVAILABLE in the error envelope and a Retry-After header, before any parsing,
 * authentication or database work, so the work already admitted finishes at a bounded latency.
 * A refused request did nothing: retrying it is always safe. New WebSocket connections are
 * closed with 1013 (try again later) by the gateway (`fastify.isUnderPressure()`); open ones
 * keep their frames, which the per-connection rate limits already bound.
 */
export default fp<OverloadPluginOptions>(async function overloadPlugin (fastify, opts) {
  const retryAfter = opts.retryAfterSeconds
  await fastify.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxEventLoopUtilization: opts.maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: opts.maxHeapUsedBytes,
    sampleInterval: opts.sampleIntervalMs,
    retryAfter,
    pressureHandler: async (request, reply, type) => {
      const route = request.routeOptions.url
      if (route !== undefined && EXEMPT_ROUTES.has(route)) return
      if (route === opts.wsPath && isUpgrade(request)) return
      reply.header('Retry-After', String(retryAfter))
      throw new AppError('SERVICE_UNAVAILABLE', 'The server is overloaded. Please retry later.', { retryAfter, reason: type })
    }
  })
}, { name: 'overload' })
