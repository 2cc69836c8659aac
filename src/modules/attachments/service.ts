import fp from 'fastify-plugin'
import type { ChatAttachment } from '../../../schemas/chat.ts'
import type { Timer } from '../../lib/clock.ts'
import { chatRepository } from '../chat/repository.ts'
import type { Caller } from '../membership/guard.ts'
import { toChatAttachment } from './attachment-view.ts'
import type { AttachmentDeps } from './deps.ts'
import { downloadAttachment, type Download, type DownloadConditions } from './download.ts'
import { attachmentRepository } from './repository.ts'
import type { SealedPart } from './sealed-stream.ts'
import { localDiskStorage, type AttachmentStorage } from './storage.ts'
import { sweepAttachments, type SweepResult } from './sweep.ts'
import { uploadAttachment, type IncomingFile, type UploadOptions } from './upload.ts'

/** How often unattached uploads and the files of deleted groups are swept. */
export const SWEEP_INTERVAL_MS = 3600_000

/** The attachments area, for its routes and for the chat service (which shows attachments in messages). */
export interface AttachmentService {
  /** Stores an upload, sealed as it streams; a retried upload id answers with the first one. */
  upload: (caller: Caller, file: IncomingFile, options: UploadOptions) => Promise<ChatAttachment>
  /** An attachment (or its thumbnail) decrypted as it streams, for a user who may see it; 404 otherwise. */
  download: (caller: Caller, attachmentId: string, part: SealedPart, conditions: DownloadConditions) => Promise<Download>
  /** The attachments of these messages, by message id (hex of the BINARY(16)). */
  ofMessages: (messageBins: Buffer[]) => Promise<Map<string, ChatAttachment[]>>
  /** Removes a deleted group's files (after the deletion committed). */
  removeGroupFiles: (groupId: string) => Promise<void>
  /** One sweep now (the timer runs it every SWEEP_INTERVAL_MS). */
  sweep: () => Promise<SweepResult>
  storage: AttachmentStorage
}

declare module 'fastify' {
  interface FastifyInstance {
    attachmentService: AttachmentService
  }
}

/** Decorates the app with the attachment service over the local disk storage (ATTACHMENTS_DIR, created here). */
export default fp(async function attachmentServicePlugin (fastify) {
  const { config } = fastify
  const storage = await localDiskStorage(config.attachments.dir)
  const chat = chatRepository(fastify.db)
  const deps: AttachmentDeps = {
    repo: attachmentRepository(fastify.db),
    storage,
    keyring: fastify.keyring,
    bus: fastify.bus,
    clock: fastify.clock,
    log: fastify.log,
    maxBytes: config.attachments.maxBytes,
    apiPrefix: config.apiPrefix,
    blockedWithinGroup: async (groupBin, userId) => await chat.blockedWithinGroup(groupBin, userId)
  }

  const service: AttachmentService = {
    upload: async (caller, file, options) => await uploadAttachment(deps, caller, file, options),
    download: async (caller, attachmentId, part, conditions) => await downloadAttachment(deps, caller, attachmentId, part, conditions),

    async ofMessages (messageBins) {
      const rows = await deps.repo.ofMessages(messageBins)
      const byMessage = new Map<string, ChatAttachment[]>()
      const views = await Promise.all(rows.map(async (row) => await toChatAttachment(deps.keyring, deps.apiPrefix, row)))
      rows.forEach((row, i) => {
        const key = (row.message_id as Buffer).toString('hex')
        const list = byMessage.get(key) ?? []
        list.push(views[i] as ChatAttachment)
        byMessage.set(key, list)
      })
      return byMessage
    },

    async removeGroupFiles (groupId) {
      try {
        await storage.deletePrefix(groupId.toLowerCase())
      } catch (err) {
        // The sweep removes them later.
        fastify.log.warn({ err, groupId }, 'could not remove a deleted group\'s files')
      }
    },

    sweep: async () => await sweepAttachments(deps),
    storage
  }

  let sweeping: Promise<unknown> | null = null
  const timer: Timer = fastify.clock.setInterval(() => {
    if (sweeping !== null) return sweeping
    sweeping = service.sweep()
      .catch((err: unknown) => { fastify.log.error({ err }, 'attachment sweep failed') })
      .finally(() => { sweeping = null })
    return sweeping
  }, SWEEP_INTERVAL_MS)
  fastify.addHook('onClose', async () => {
    timer.cancel()
    await sweeping
  })

  fastify.decorate('attachmentService', service)
}, { name: 'attachment-service', dependencies: ['db', 'crypto', 'bus'] })
