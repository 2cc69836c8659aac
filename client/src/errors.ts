import type { ErrorCode, ErrorResponse, ValidationErrorItem } from '@parley/types'

/** Codes the client raises itself, beside the server's `ErrorCode`s. */
export type ClientErrorCode =
  /** The request or the socket could not reach the server (offline, refused, reset). */
  | 'NETWORK_ERROR'
  /** No answer within the configured time. */
  | 'TIMEOUT'
  /** The socket closed before the command was answered; a queued send is retried. */
  | 'CONNECTION_CLOSED'
  /** The offline outbox holds its maximum number of messages. */
  | 'OUTBOX_FULL'
  /** The client was closed (`client.close()`). */
  | 'CLIENT_CLOSED'
  /** The server answered something that is not the Parley envelope. */
  | 'INVALID_RESPONSE'

export type ParleyErrorCode = ErrorCode | ClientErrorCode

/** Server codes that never succeed on a retry of the same request. */
const FINAL_CODES = new Set<string>([
  'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'VALIDATION_ERROR', 'CONFLICT', 'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', 'OUTBOX_FULL', 'CLIENT_CLOSED'
])

export interface ParleyErrorInit {
  code: ParleyErrorCode
  message: string
  /** HTTP status; 0 for errors of the WebSocket or of the client itself. */
  status?: number
  details?: Record<string, unknown>
  validationErrors?: ValidationErrorItem[]
  cause?: unknown
}

/**
 * Every failure the SDK reports: an error envelope of the REST API, a `chat:error` frame, or a
 * problem on the client's side (network, timeout, closed). `code` is what to switch on.
 */
export class ParleyError extends Error {
  override readonly name = 'ParleyError'
  readonly code: ParleyErrorCode
  readonly status: number
  readonly details: Record<string, unknown> | undefined
  /** Per-field problems of a VALIDATION_ERROR (empty otherwise). */
  readonly validationErrors: ValidationErrorItem[]

  constructor (init: ParleyErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.code = init.code
    this.status = init.status ?? 0
    this.details = init.details
    this.validationErrors = init.validationErrors ?? []
  }

  /** From an error envelope (`{ success: false, error, code, … }`) or a `chat:error` payload. */
  static fromEnvelope (body: Pick<ErrorResponse, 'error' | 'code' | 'details' | 'validationErrors'>, status = 0): ParleyError {
    return new ParleyError({
      code: body.code as ParleyErrorCode,
      message: body.error,
      status,
      ...(body.details !== undefined ? { details: body.details } : {}),
      ...(body.validationErrors !== undefined ? { validationErrors: body.validationErrors } : {})
    })
  }

  /** How long the server asked to wait (RATE_LIMIT_EXCEEDED `details.retryAfter`, seconds), in ms. */
  get retryAfterMs (): number | null {
    const seconds = this.details?.retryAfter
    return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null
  }

  /** False when the same request can never succeed (bad input, no access, gone). */
  get retryable (): boolean {
    return !FINAL_CODES.has(this.code)
  }
}

/** Any thrown value as a ParleyError (network failures of `fetch` become NETWORK_ERROR). */
export function toParleyError (err: unknown, fallback: ParleyErrorCode = 'NETWORK_ERROR'): ParleyError {
  if (err instanceof ParleyError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new ParleyError({ code: fallback, message, cause: err })
}
