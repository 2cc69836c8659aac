import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Envelope, ErrorResponse, Ref } from '../../../schemas/common.ts'
import {
  DeleteNotificationResponse, ListNotificationsQuery, ListNotificationsResponse, MarkAllNotificationsReadResponse,
  MarkNotificationReadResponse, NotificationIdParams, NotificationPreferences, UpdateNotificationPreferencesRequest
} from '../../../schemas/notifications.ts'
import { ok } from '../../lib/envelope.ts'

const Failure = Ref(ErrorResponse)
const failures = { 400: Failure, 401: Failure, 429: Failure }

/** /notifications: the caller's own notifications and which types create them. */
const notificationRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const notifications = fastify.notificationService
  const tags = ['notifications']

  fastify.get('/', {
    schema: {
      tags,
      summary: 'Your notifications, newest first (cursor pagination; unread=true for unread ones only)',
      querystring: Ref(ListNotificationsQuery),
      response: { 200: Envelope(Ref(ListNotificationsResponse)), ...failures }
    }
  }, async (request) => ok(await notifications.list(request.user.id, request.query)))

  // Declared before /:id/read so `read-all` is never taken for an id.
  fastify.put('/read-all', {
    schema: {
      tags,
      summary: 'Mark all your notifications read',
      response: { 200: Envelope(Ref(MarkAllNotificationsReadResponse)), ...failures }
    }
  }, async (request) => ok(await notifications.markAllRead(request.user.id)))

  fastify.get('/preferences', {
    schema: {
      tags,
      summary: 'Which notification types are on for you (all by default)',
      response: { 200: Envelope(Ref(NotificationPreferences)), ...failures }
    }
  }, async (request) => ok(await notifications.preferences(request.user.id)))

  fastify.put('/preferences', {
    schema: {
      tags,
      summary: 'Turn notification types on or off; the types left out keep their setting',
      body: Ref(UpdateNotificationPreferencesRequest),
      response: { 200: Envelope(Ref(NotificationPreferences)), ...failures }
    }
  }, async (request) => ok(await notifications.updatePreferences(request.user.id, request.body)))

  fastify.put('/:id/read', {
    schema: {
      tags,
      summary: 'Mark one of your notifications read',
      params: NotificationIdParams,
      response: { 200: Envelope(Ref(MarkNotificationReadResponse)), ...failures, 404: Failure }
    }
  }, async (request) => ok(await notifications.markRead(request.user.id, request.params.id)))

  fastify.delete('/:id', {
    schema: {
      tags,
      summary: 'Delete one of your notifications',
      params: NotificationIdParams,
      response: { 200: Envelope(Ref(DeleteNotificationResponse)), ...failures, 404: Failure }
    }
  }, async (request) => ok(await notifications.remove(request.user.id, request.params.id)))
}

export default notificationRoutes
