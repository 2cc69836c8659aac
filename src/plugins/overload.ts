import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'
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
  /** HTTP requests this instance works on at once; past it new ones are refused. 0: no cap. */
  maxInFlight: number
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
 * Overload sheds instead of collapsing. Two signals, either of which refuses new work:
 *
 * - @fastify/under-pressure: the last sample of the event loop (mean delay, utilization) or of
 *   the heap is past its threshold: this process has no CPU or memory left.
 * - Requests in flight past `maxInFlight`: the work waits on something else (the database, the
 *   group commit), so the event loop looks idle while latency grows without bound. The cap
 *   bounds that queue, and with it the latency of what is admitted.
 *
 * A refused request is answered at once, in onRequest (before any parsing, authentication or
 * database work), with 503 SERVICE_UNAVAILABLE in the error envelope and a Retry-After header. It
 * did nothing: retrying it is always safe. New WebSocket connections are closed with 1013 (try
 * again later) by the gateway (`fastify.isUnderPressure()`); open ones keep their frames, which
 * the per-connection rate limits already bound. /health and /metrics always answer.
 */
export default fp<OverloadPluginOptions>(async function overloadPlugin (fastify, opts) {
  const retryAfter = opts.retryAfterSeconds
  const refusal = (reply: FastifyReply, reason: string): AppError => {
    void reply.header('Retry-After', String(retryAfter))
    return new AppError('SERVICE_UNAVAILABLE', 'The server is overloaded. Please retry later.', { retryAfter, reason })
  }
  /** Answers whatever the load: an exempt route, or an upgrade (the gateway refuses those itself). */
  const passes = (request: FastifyRequest): boolean => {
    const route = request.routeOptions.url
    return (route !== undefined && EXEMPT_ROUTES.has(route)) || (route === opts.wsPath && isUpgrade(request))
  }

  // The samples taken while the app starts measure its one-off start-up work (schema
  // compilation, connections), not load: the first two after ready are not acted on.
  let readyAt = Number.POSITIVE_INFINITY
  fastify.addHook('onReady', async () => { readyAt = Date.now() })
  const settled = (): boolean => Date.now() - readyAt >= 2 * opts.sampleIntervalMs

  await fastify.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxEventLoopUtilization: opts.maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: opts.maxHeapUsedBytes,
    sampleInterval: opts.sampleIntervalMs,
    retryAfter,
    pressureHandler: async (request, reply, type) => {
      if (!passes(request) && settled()) throw refusal(reply, type)
    }
  })

  if (opts.maxInFlight > 0) {
    let inFlight = 0
    fastify.decorate('requestsInFlight', () => inFlight)
    fastify.addHook('onRequest', (request, reply, done) => {
      if (passes(request)) {
        done()
        return
      }
      if (inFlight >= opts.maxInFlight) {
        done(refusal(reply, 'requestsInFlight'))
        return
      }
      inFlight += 1
      // 'close' comes once whichever way the response ends: sent, failed, or the client gone.
      reply.raw.once('close', () => { inFlight -= 1 })
      done()
    })
  } else {
    fastify.decorate('requestsInFlight', () => 0)
  }
}, { name: 'overload' })

declare module 'fastify' {
  interface FastifyInstance {
    /** HTTP requests being worked on now, counted against OVERLOAD_MAX_IN_FLIGHT (0 when there is no cap). */
    requestsInFlight: () => number
  }
}
