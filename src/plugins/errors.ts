import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorCode, ErrorResponse, ValidationErrorItem } from '../../schemas/common.ts'
import { AppError } from '../lib/app-error.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The seed 01 §8.1 code a 5xx on this route answers with (SEND_FAILED, EDIT_FAILED…). */
    failureCode?: ErrorCode
  }
}

interface AjvIssue {
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

const codeByStatus: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
  503: 'SERVICE_UNAVAILABLE'
}

/** `body` + `/metadata/mentions/0/startIndex` → `metadata.mentions.0.startIndex`. */
function fieldOf (issue: AjvIssue, context: string | undefined): string {
  const path = issue.instancePath.split('/').filter(Boolean)
  const missing = issue.params.missingProperty
  if (typeof missing === 'string') path.push(missing)
  const extra = issue.params.additionalProperty
  if (typeof extra === 'string') path.push(extra)
  if (path.length === 0) return context ?? 'request'
  return path.join('.')
}

export function validationErrorsOf (issues: AjvIssue[], context: string | undefined): ValidationErrorItem[] {
  return issues.map((issue) => {
    const field = fieldOf(issue, context)
    return { field, message: `${field} ${issue.message ?? 'is invalid'}` }
  })
}

export function errorBody (code: string, message: string, extra: Partial<ErrorResponse> = {}): ErrorResponse {
  return { success: false, error: message, code, ...extra, timestamp: new Date().toISOString() }
}

function sendAppError (reply: FastifyReply, err: AppError): void {
  const extra: Partial<ErrorResponse> = {}
  if (err.details !== undefined) extra.details = err.details
  if (err.validationErrors !== undefined) extra.validationErrors = err.validationErrors
  void reply.code(err.statusCode).send(errorBody(err.code, err.message, extra))
}

function handleError (this: FastifyInstance, err: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof AppError) {
    sendAppError(reply, err)
    return
  }
  if (err.validation !== undefined) {
    const validationErrors = validationErrorsOf(err.validation as AjvIssue[], err.validationContext)
    void reply.code(400).send(errorBody('VALIDATION_ERROR', 'Validation failed', { validationErrors }))
    return
  }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500
  if (status < 500) {
    const code = codeByStatus[status] ?? 'VALIDATION_ERROR'
    const message = code === 'PAYLOAD_TOO_LARGE' ? 'Request body is too large' : err.message
    void reply.code(status).send(errorBody(code, message))
    return
  }
  // Internals stay in the log (the logger's err serializer, serializeError in lib/redact.ts,
  // drops the values a database error inlines); the client gets the route's failure code only.
  request.log.error({ err }, 'request failed')
  if (status === 503) {
    void reply.code(503).send(errorBody('SERVICE_UNAVAILABLE', 'Service temporarily unavailable'))
    return
  }
  const code = request.routeOptions.config.failureCode ?? 'INTERNAL_ERROR'
  void reply.code(500).send(errorBody(code, 'Internal server error'))
}

/** One error handler and one not-found handler: every error leaves in the envelope. */
export default fp(async function errorsPlugin (fastify) {
  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler({ preHandler: fastify.rateLimit() }, async (request, reply) => {
    return await reply.code(404).send(errorBody('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`))
  })
}, { name: 'errors', dependencies: ['rate-limit'] })
