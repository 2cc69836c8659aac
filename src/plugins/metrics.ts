import fp from 'fastify-plugin'
import fastifyMetrics from 'fastify-metrics'
import client, { type Counter, type Registry } from 'prom-client'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorResponse, Ref } from '../../schemas/common.ts'
import { AppError } from '../lib/app-error.ts'

export type MetricsRegistry = Registry
export type MetricsCounter = Counter

/** Sets one sample of a gauge while it is collected; labels as declared. */
export type GaugeSample = (value: number, labels?: Record<string, string>) => void

export interface GaugeDefinition {
  name: string
  help: string
  labelNames?: string[]
  /** Runs at every scrape: report the current value(s) with `sample`. Report nothing rather than a made-up value. */
  collect: (sample: GaugeSample) => void | Promise<void>
}

/** What the webhook outbox reports, once it exists: its depth is read at scrape time. */
export interface WebhookOutboxSource {
  depth: () => Promise<number>
}

/**
 * Parley's own instruments (the `meter` decorator). Existing code counts through the narrow
 * functions; a new source (the webhook outbox, a store) adds its gauges and counters where it
 * lives with `gauge`/`counter`, so nothing is reported before there is something to measure.
 */
export interface Meter {
  readonly registry: MetricsRegistry
  /** A send transaction committed: `messages` messages in it. */
  sendsCommitted: (messages: number) => void
  /** Bus events were handed to WebSocket connections (one per connection; `count` at once, 1 by default). */
  eventDelivered: (count?: number) => void
  /** A publish to Redis failed: the event reached this instance's listeners only. */
  busPublishFailed: () => void
  /** Adds a gauge read at scrape time. */
  gauge: (definition: GaugeDefinition) => void
  /** Adds a counter that its source increments. */
  counter: (name: string, help: string, labelNames?: string[]) => MetricsCounter
  /** Registers the webhook outbox: its depth gauge, and the counter its failed deliveries increment. */
  trackWebhookOutbox: (outbox: WebhookOutboxSource) => { deliveryFailed: () => void }
  /** The outbox's depth for /status; null while no outbox is registered. */
  webhookOutboxDepth: () => Promise<number | null>
}

declare module 'fastify' {
  interface FastifyInstance {
    meter: Meter
  }
}

export interface MetricsPluginOptions {
  /** When set, /metrics answers only `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token: string | null
}

/** Send batches hold 1 to MAX_BATCH_MESSAGES (128) messages. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128]

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** A preHandler that admits only the configured bearer token, compared in constant time. */
function requireToken (token: string) {
  const expected = digest(token)
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) throw new AppError('UNAUTHORIZED', 'Missing bearer token')
    if (!timingSafeEqual(digest(header.slice(7).trim()), expected)) throw new AppError('UNAUTHORIZED', 'Invalid metrics token')
  }
}

function createMeter (registry: MetricsRegistry): Meter {
  const registers = [registry]
  const sends = new client.Counter({ name: 'parley_sends_committed_total', help: 'Messages stored by committed send transactions', registers })
  const batchSize = new client.Histogram({ name: 'parley_send_batch_size', help: 'Messages per committed send transaction', buckets: BATCH_SIZE_BUCKETS, registers })
  const delivered = new client.Counter({ name: 'parley_ws_events_delivered_total', help: 'Bus events handed to WebSocket connections (one per connection)', registers })
  const busFailures = new client.Counter({ name: 'parley_bus_publish_failures_total', help: 'Bus publishes Redis did not take (delivered on this instance only)', registers })
  let outbox: WebhookOutboxSource | null = null

  const meter: Meter = {
    registry,
    sendsCommitted (messages) {
      sends.inc(messages)
      batchSize.observe(messages)
    },
    eventDelivered (count = 1) { delivered.inc(count) },
    busPublishFailed () { busFailures.inc() },
    gauge ({ name, help, labelNames = [], collect }) {
      // eslint-disable-next-line no-new -- registering is the point: the registry keeps it
      new client.Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect () {
          // Series whose labels are not reported again (a pool gone, a state left) disappear.
          this.reset()
          await collect((value, labels) => { if (labels === undefined) this.set(value); else this.set(labels, value) })
        }
      })
    },
    counter: (name, help, labelNames = []) => new client.Counter({ name, help, labelNames, registers }),
    trackWebhookOutbox (source) {
      if (outbox !== null) throw new Error('A webhook outbox is already registered')
      outbox = source
      meter.gauge({ name: 'parley_webhook_outbox_depth', help: 'Webhook deliveries waiting in the outbox', collect: async (sample) => { sample(await source.depth()) } })
      const failures = meter.counter('parley_webhook_delivery_failures_total', 'Webhook delivery attempts that failed')
      return { deliveryFailed: () => { failures.inc() } }
    },
    async webhookOutboxDepth () {
      return outbox === null ? null : await outbox.depth()
    }
  }
  return meter
}

/**
 * Metrics in Prometheus text: HTTP metrics per route (fastify-metrics: a duration
 * histogram labelled method, route and status), the Node.js process metrics, and Parley's own
 * (`fastify.meter`), served by `metricsRoute`. Every app has a registry of its own, so several
 * apps in one process (tests, a second instance) never share or collide. Registered before the
 * routes it measures.
 */
export default fp(async function metricsPlugin (fastify) {
  const registry = new client.Registry()
  // A CommonJS module: its plugin is the `default` export of module.exports.
  await fastify.register(fastifyMetrics.default, {
    endpoint: null,
    promClient: client,
    defaultMetrics: { enabled: true, register: registry },
    routeMetrics: {
      // A histogram per route is enough for rates and quantiles; a summary costs every request more.
      enabled: { histogram: true, summary: false },
      // fastify-metrics makes the summary anyway: in no registry, it is never exposed nor clashes.
      overrides: { histogram: { registers: [registry] }, summary: { registers: [] } }
    }
  })
  fastify.decorate('meter', createMeter(registry))
}, { name: 'metrics' })

/**
 * GET /metrics, registered after the docs plugin so OpenAPI lists it (the metrics plugin itself
 * comes before every route it measures). Outside the API prefix, like /health.
 */
export const metricsRoute: FastifyPluginAsync<MetricsPluginOptions> = async (fastify, opts) => {
  const registry = fastify.meter.registry
  fastify.get('/metrics', {
    schema: {
      tags: ['ops'],
      summary: 'Prometheus metrics (text exposition format 0.0.4); needs `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set',
      response: { 401: Ref(ErrorResponse) }
    },
    config: { rateLimit: false, disableMetrics: true },
    ...(opts.token === null ? {} : { preHandler: requireToken(opts.token) })
  }, async (_request, reply) => {
    const text = await registry.metrics()
    return await reply.type(registry.contentType).send(text)
  })
}
