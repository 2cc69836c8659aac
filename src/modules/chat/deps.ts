import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import type { Keyring } from '../../lib/keyring.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { RateLimitCategory } from '../../plugins/rate-limit.ts'
import type { AttachmentService } from '../attachments/service.ts'
import type { CheckSpam } from '../moderation/spam.ts'
import type { NotificationJobs } from '../notifications/jobs.ts'
import type { ChatRepository, GroupSyncRow } from './repository.ts'
import type { SendBatcher } from './send-batcher.ts'

/** What the chat functions read of the app's configuration. */
export interface ChatConfig {
  /** chat:message and chat:message_edited events carry the content (WS_BROADCAST_CONTENT). */
  broadcastContent: boolean
}

/**
 * What the chat functions work with, handed over once when the service is assembled
 * (service.ts): every area chat depends on is named here, none is looked up at call time.
 */
export interface ChatDeps {
  db: Kysely<Database>
  repo: ChatRepository
  keyring: Keyring
  bus: Bus
  /** Commits sends in batches over the multi-statement pool (send-batcher.ts). */
  sendBatcher: SendBatcher
  config: ChatConfig
  /** Wakes the notification worker after a commit that recorded jobs. */
  notificationJobs: NotificationJobs
  spamCheck: CheckSpam
  attachments: Pick<AttachmentService, 'ofMessages'>
  /** Counts one more action of the user against a rate limit; throws past it. */
  takeRateLimit: (category: RateLimitCategory, userId: number) => Promise<void>
  log: FastifyBaseLogger
  /** chat:sync rows of a user; connections admitted in the same turn share one query. */
  syncRowsOf: (userId: number) => Promise<GroupSyncRow[]>
}
