import type { ErrorCode } from '../../schemas/common.ts'

const statusByCode: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // A download's Range lies outside the file.
  RANGE_NOT_SATISFIABLE: 416,
  // A content rule refused the message (duplicate flood, too many links, a listed keyword).
  SPAM_DETECTED: 422,
  RATE_LIMIT_EXCEEDED: 429,
  SEND_FAILED: 500,
  EDIT_FAILED: 500,
  DELETE_FAILED: 500,
  REACTION_FAILED: 500,
  SEARCH_FAILED: 500,
  PIN_FAILED: 500,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503
}

export interface FieldError { field: string, message: string }

/**
 * The one error services throw. The errors plugin turns it into the envelope of DESIGN §4
 * (REST) and the gateway into `chat:error` (WebSocket), so both transports say the same thing.
 */
export class AppError extends Error {
  override name = 'AppError'
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details: Record<string, unknown> | undefined
  readonly validationErrors: FieldError[] | undefined

  constructor (code: ErrorCode, message: string, details?: Record<string, unknown>, validationErrors?: FieldError[]) {
    super(message)
    this.code = code
    this.statusCode = statusByCode[code]
    this.details = details
    this.validationErrors = validationErrors
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`)
export const forbidden = (message: string): AppError => new AppError('FORBIDDEN', message)
export const invalid = (field: string, message: string): AppError =>
  new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field, message }])
