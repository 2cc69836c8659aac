import type { FastifyBaseLogger } from 'fastify'
import type { Clock } from '../../lib/clock.ts'
import type { Keyring } from '../../lib/keyring.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { AttachmentRepository } from './repository.ts'
import type { AttachmentStorage } from './storage.ts'

/** What the attachment functions work with; service.ts assembles it. */
export interface AttachmentDeps {
  repo: AttachmentRepository
  storage: AttachmentStorage
  keyring: Keyring
  bus: Bus
  clock: Clock
  log: FastifyBaseLogger
  /** ATTACHMENT_MAX_BYTES. */
  maxBytes: number
  /** For the download URLs in ChatAttachment. */
  apiPrefix: string
  /** True when the user and another member of the (direct) group block each other. */
  blockedWithinGroup: (groupBin: Buffer, userId: number) => Promise<boolean>
}
