import { createHmac, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { PushWebhookConfig } from '../../config.ts'
import type { PushWebhookPayload } from '../../../schemas/notifications.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Keyring } from '../../lib/keyring.ts'
import { fromBin } from '../../lib/ids.ts'
import { createPump, type Pump } from './pump.ts'
import type { NotificationRepository, OutboxRow } from './repository.ts'

/*
 * Delivers the push webhook outbox (DESIGN §4): at least once, with the event id stable across
 * retries. A round leases due rows to this instance (repository.claimDue: SKIP LOCKED, then
 * locked_by/locked_until), so two instances never post the same event at once; a lease that
 * outlives its instance (a crash) expires and the row is due again. A failure is retried with
 * exponential backoff and jitter until PUSH_WEBHOOK_RETRY_WINDOW_MS after the event was
 * created, then dead-lettered (status 'dead'). Shutdown aborts the requests in flight and
 * gives their leases back, so the next instance to look delivers them at once.
 */

const ROWS_PER_ROUND = 16
const MAX_RETRY_DELAY_MS = 3_600_000
const PREVIEW_CHARACTERS = 100

/** The HMAC-SHA256 of the raw body, as X-Parley-Signature carries it. */
export function signatureOf (secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** Equal jitter: half the exponential delay, plus up to as much again at random. */
export function retryDelayMs (baseMs: number, attempt: number): number {
  const delay = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.min(attempt - 1, 30))
  return Math.ceil(delay / 2 + Math.random() * delay / 2)
}

export interface WebhookDeps {
  repo: NotificationRepository
  keyring: Keyring
  config: PushWebhookConfig
  log: FastifyBaseLogger
  pollMs: number
  /** The time due dates, leases and the retry window are reckoned in. */
  clock: Clock
  /** Counts a failed attempt (parley_webhook_delivery_failures_total). */
  deliveryFailed: () => void
}

async function previewOf (deps: WebhookDeps, row: OutboxRow): Promise<string | null> {
  if (row.preview_group_id === null || row.preview_message_id === null) return null
  const source = await deps.repo.previewSource(row.preview_group_id, row.preview_message_id)
  if (source === null) return null
  const content = await deps.keyring.decrypt(fromBin(row.preview_group_id), { ciphertext: source.content, keyVersion: source.content_key_version },
    { recordId: fromBin(row.preview_message_id), field: 'content' })
  return [...content.slice(0, PREVIEW_CHARACTERS * 2)].slice(0, PREVIEW_CHARACTERS).join('')
}

/** The body of one attempt: the stored notification, this attempt's time, the preview when allowed. */
async function bodyOf (deps: WebhookDeps, row: OutboxRow, timestamp: number): Promise<string> {
  const stored = JSON.parse(row.payload) as Omit<PushWebhookPayload, 'eventId' | 'timestamp'>
  const body: PushWebhookPayload = { eventId: fromBin(row.event_id), timestamp, ...stored }
  const preview = await previewOf(deps, row)
  if (preview !== null) body.preview = preview
  return JSON.stringify(body)
}

export function createWebhookDelivery (deps: WebhookDeps): Pump {
  const { config, repo } = deps
  const owner = randomUUID()
  // Long enough for every request of a round (they run side by side) to end or time out.
  const leaseMs = 2 * config.timeoutMs + 1000
  const shutdown = new AbortController()

  async function failed (row: OutboxRow, reason: string): Promise<number | null> {
    deps.deliveryFailed()
    const now = new Date(deps.clock.now())
    const error = reason.slice(0, 255)
    if (now.getTime() - row.created_at.getTime() >= config.retryWindowMs) {
      await repo.deadLetter(row.id, owner, now, error)
      deps.log.warn({ eventId: fromBin(row.event_id), attempts: row.attempts + 1, error }, 'webhook event dead-lettered')
      return null
    }
    const delay = retryDelayMs(config.retryBaseMs, row.attempts + 1)
    await repo.retryLater(row.id, owner, new Date(now.getTime() + delay), error)
    return delay
  }

  /** One attempt; the delay before its retry, or null when none is due. */
  async function deliver (row: OutboxRow): Promise<number | null> {
    // The receiver checks it against its own clock: real time, whatever the app runs on.
    const timestamp = Math.floor(Date.now() / 1000)
    let response: Response
    try {
      const body = await bodyOf(deps, row, timestamp)
      response = await fetch(config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Parley-Webhook/1',
          'x-parley-event-id': fromBin(row.event_id),
          'x-parley-timestamp': String(timestamp),
          'x-parley-signature': signatureOf(config.secret, body)
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([shutdown.signal, AbortSignal.timeout(config.timeoutMs)])
      })
      await response.body?.cancel().catch(() => {})
    } catch (err) {
      if (shutdown.signal.aborted) {
        await repo.release([row.id], owner)
        return null
      }
      return await failed(row, (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message)
    }
    if (response.status >= 200 && response.status < 300) {
      await repo.delivered(row.id, owner)
      return null
    }
    return await failed(row, `HTTP ${response.status}`)
  }

  const pump = createPump('webhook delivery', async () => {
    if (shutdown.signal.aborted) return false
    const now = new Date(deps.clock.now())
    const rows = await repo.claimDue(owner, now, new Date(now.getTime() + leaseMs), ROWS_PER_ROUND)
    const retries = await Promise.all(rows.map(async (row) => await deliver(row).catch((err: unknown) => {
      deps.log.error({ err }, 'webhook delivery bookkeeping failed; the lease expires and the event is retried')
      return null
    })))
    const soonest = Math.min(...retries.filter((d): d is number => d !== null))
    if (Number.isFinite(soonest)) pump.wakeIn(soonest)
    return rows.length === ROWS_PER_ROUND
  }, deps.pollMs, deps.log, deps.clock)

  return {
    wake: pump.wake,
    wakeIn: pump.wakeIn,
    async close () {
      shutdown.abort()
      await pump.close()
    }
  }
}
