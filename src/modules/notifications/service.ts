import fp from 'fastify-plugin'
import type {
  DeleteNotificationResponse, ListNotificationsQuery, ListNotificationsResponse, MarkAllNotificationsReadResponse,
  MarkNotificationReadResponse, NotificationPreferences, UpdateNotificationPreferencesRequest
} from '../../../schemas/notifications.ts'
import {
  deleteNotification, listNotifications, markAllNotificationsRead, markNotificationRead, notificationPreferences,
  updateNotificationPreferences
} from './inbox.ts'
import { notificationRepository } from './repository.ts'
import { createWebhookDelivery } from './webhook.ts'
import { createNotificationWorker } from './worker.ts'

/*
 * Notifications (DESIGN §4), by file: jobs.ts (what may notify, recorded where it happens),
 * recipients.ts (who is notified, after preferences, mutes and blocks), worker.ts (jobs →
 * notifications, `notification` events and outbox rows, off the request path), webhook.ts
 * (the push webhook outbox), inbox.ts (the REST operations), repository.ts (every query).
 */

export interface NotificationService {
  /** A page of the caller's notifications, newest first, with their unread count. */
  list: (userId: number, query: ListNotificationsQuery) => Promise<ListNotificationsResponse>
  /** Marks one of the caller's notifications read. */
  markRead: (userId: number, id: string) => Promise<MarkNotificationReadResponse>
  /** Marks every notification of the caller read. */
  markAllRead: (userId: number) => Promise<MarkAllNotificationsReadResponse>
  /** Deletes one of the caller's notifications. */
  remove: (userId: number, id: string) => Promise<DeleteNotificationResponse>
  /** Which types notify the caller. */
  preferences: (userId: number) => Promise<NotificationPreferences>
  /** Turns types on or off for the caller. */
  updatePreferences: (userId: number, changes: UpdateNotificationPreferencesRequest) => Promise<NotificationPreferences>
  /** The caller's unread notifications (chat:sync). */
  unreadCount: (userId: number) => Promise<number>
  /** unreadCount of several users in one query (chat:sync of connections admitted together). */
  unreadCounts: (userIds: number[]) => Promise<Map<number, number>>
}

declare module 'fastify' {
  interface FastifyInstance {
    notificationService: NotificationService
  }
}

export default fp(async function notificationServicePlugin (fastify) {
  const repo = notificationRepository(fastify.db)
  const { pollMs, pushWebhook } = fastify.config.notifications
  const log = fastify.log.child({ module: 'notifications' })

  const webhook = pushWebhook === null
    ? null
    : createWebhookDelivery({
      repo,
      keyring: fastify.keyring,
      config: pushWebhook,
      log,
      pollMs,
      clock: fastify.clock,
      deliveryFailed: fastify.meter.trackWebhookOutbox({ depth: repo.outboxDepth }).deliveryFailed
    })
  const worker = createNotificationWorker({
    db: fastify.db,
    repo,
    keyring: fastify.keyring,
    bus: fastify.bus,
    log,
    pollMs,
    clock: fastify.clock,
    onlineUserIds: fastify.presenceService.onlineUserIds,
    webhook: webhook === null ? null : { previews: fastify.config.ws.broadcastContent, written: webhook.wake }
  })
  const stopListening = fastify.notificationJobs.onRecorded(worker.wake)

  const service: NotificationService = {
    list: async (userId, query) => await listNotifications(repo, userId, query),
    markRead: async (userId, id) => await markNotificationRead(repo, userId, id),
    markAllRead: async (userId) => await markAllNotificationsRead(repo, userId),
    remove: async (userId, id) => await deleteNotification(repo, userId, id),
    preferences: async (userId) => await notificationPreferences(repo, userId),
    updatePreferences: async (userId, changes) => await updateNotificationPreferences(repo, userId, changes),
    unreadCount: async (userId) => await repo.unreadCount(userId),
    unreadCounts: async (userIds) => await repo.unreadCounts(userIds)
  }
  fastify.decorate('notificationService', service)

  // Jobs and deliveries left by an earlier run (or another instance's crash) are picked up at once.
  fastify.addHook('onReady', async () => {
    worker.wake()
    webhook?.wake()
  })
  // Before the database and the store close (onClose hooks run in reverse order).
  fastify.addHook('onClose', async () => {
    stopListening()
    await worker.close()
    await webhook?.close()
  })
}, { name: 'notification-service', dependencies: ['db', 'bus', 'crypto', 'metrics', 'presence-service', 'notification-jobs'] })
