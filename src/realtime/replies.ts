import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../lib/app-error.ts'
import type { ErrorFrame, ServerFrame } from '../../schemas/ws.ts'
import type { Connection } from './connection.ts'
import { outboundFrame } from './outbound.ts'

/** Frames for one connection alone (an ack, an error): serialized for it, unlike fanout frames. */

export function errorFrame (err: AppError, requestId: string | undefined): ErrorFrame {
  const payload: ErrorFrame['payload'] = { error: err.message, code: err.code }
  if (err.details !== undefined) payload.details = err.details
  if (err.validationErrors !== undefined) payload.validationErrors = err.validationErrors
  return requestId === undefined ? { type: 'chat:error', payload } : { type: 'chat:error', payload, requestId }
}

/** Sends a frame to this connection only. */
export function sendTo (conn: Connection, frame: ServerFrame): void {
  conn.sendFrame(outboundFrame(frame))
}

/** Answers chat:error: an AppError as it is, anything else logged and sent as `failureCode`. */
export function sendError (log: FastifyBaseLogger, conn: Connection, err: unknown, requestId: string | undefined, failureCode: AppError['code'] = 'INTERNAL_ERROR'): void {
  if (err instanceof AppError) {
    sendTo(conn, errorFrame(err, requestId))
    return
  }
  // Internals stay in the log; the client gets the command's failure code only.
  log.error({ err, connectionId: conn.id }, 'websocket command failed')
  sendTo(conn, errorFrame(new AppError(failureCode, 'Internal server error'), requestId))
}
