import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox'

/**
 * A reference to a shared schema by its `$id`. Shared schemas are registered once with
 * `addSchema`, so OpenAPI shows them as named components and serializers compile them once.
 */
export function Ref<T extends TSchema> (schema: T): T {
  if (schema.$id === undefined) throw new Error('Ref needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id)) as unknown as T
}

/*
 * The scalar shapes every schema file builds its fields from, inline (no $id, so one shape may
 * appear in many schemas): one definition each, so a field cannot drift from its kind.
 */
export const uuid = (options: SchemaOptions = {}) => Type.String({ ...options, format: 'uuid' })
/** users.id: INT UNSIGNED AUTO_INCREMENT. */
export const userId = (options: SchemaOptions = {}) => Type.Integer({ ...options, minimum: 1, maximum: 4294967295 })
export const isoDateTime = (options: SchemaOptions = {}) => Type.String({ ...options, format: 'date-time' })

export const Uuid = uuid({ $id: 'Uuid', description: 'A UUID' })
export type Uuid = Static<typeof Uuid>

export const UserId = userId({ $id: 'UserId', description: 'A numeric user id' })
export type UserId = Static<typeof UserId>

export const IsoDateTime = isoDateTime({ $id: 'IsoDateTime' })
export type IsoDateTime = Static<typeof IsoDateTime>

export const ErrorCode = Type.Union([
  Type.Literal('UNAUTHORIZED'),
  Type.Literal('FORBIDDEN'),
  Type.Literal('NOT_FOUND'),
  Type.Literal('VALIDATION_ERROR'),
  Type.Literal('RATE_LIMIT_EXCEEDED'),
  Type.Literal('SEND_FAILED'),
  Type.Literal('EDIT_FAILED'),
  Type.Literal('DELETE_FAILED'),
  Type.Literal('REACTION_FAILED'),
  Type.Literal('SEARCH_FAILED'),
  Type.Literal('PIN_FAILED'),
  Type.Literal('CONFLICT'),
  Type.Literal('PAYLOAD_TOO_LARGE'),
  Type.Literal('UNSUPPORTED_MEDIA_TYPE'),
  Type.Literal('SERVICE_UNAVAILABLE'),
  Type.Literal('INTERNAL_ERROR'),
  Type.Literal('SPAM_DETECTED'),
  Type.Literal('RANGE_NOT_SATISFIABLE')
], { $id: 'ErrorCode' })
export type ErrorCode = Static<typeof ErrorCode>

export const ValidationErrorItem = Type.Object({
  field: Type.String(),
  message: Type.String()
}, { $id: 'ValidationErrorItem' })
export type ValidationErrorItem = Static<typeof ValidationErrorItem>

export const RateLimitDetails = Type.Object({
  retryAfter: Type.Integer({ description: 'Seconds until the limit resets' }),
  limit: Type.Integer(),
  remaining: Type.Integer(),
  resetAt: isoDateTime()
}, { $id: 'RateLimitDetails' })
export type RateLimitDetails = Static<typeof RateLimitDetails>

/** The error envelope of seed 01 §4.1, used for every error the service answers. */
export const ErrorResponse = Type.Object({
  success: Type.Literal(false),
  error: Type.String({ description: 'Human-readable message' }),
  code: Type.String({ description: 'One of ErrorCode' }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  validationErrors: Type.Optional(Type.Array(ValidationErrorItem)),
  timestamp: isoDateTime()
}, { $id: 'ErrorResponse' })
export type ErrorResponse = Static<typeof ErrorResponse>

/** The success envelope of seed 01 §4.1 around a route's data. */
export function Envelope<T extends TSchema> (data: T, options: SchemaOptions = {}) {
  return Type.Object({
    success: Type.Literal(true),
    data,
    timestamp: isoDateTime()
  }, options)
}

/** Seed 01's generic response shape, as a frontend reads it. */
export interface ApiResponse<T> {
  success: boolean
  data?: T
  error?: string
  code?: string
  details?: Record<string, unknown>
  validationErrors?: Array<{ field: string, message: string }>
  timestamp: string
}

/** The shared schemas every route may reference by `$id`, in dependency order. */
export const commonSchemas: TSchema[] = [Uuid, UserId, IsoDateTime, ErrorCode, ValidationErrorItem, RateLimitDetails, ErrorResponse]

export const GroupIdParams = Type.Object({ groupId: uuid() })
export type GroupIdParams = Static<typeof GroupIdParams>

export const UserIdParams = Type.Object({ userId: userId() })
export type UserIdParams = Static<typeof UserIdParams>
