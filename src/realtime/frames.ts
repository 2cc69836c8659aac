import { FormatRegistry, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { FieldError } from '../lib/app-error.ts'
import { AppError } from '../lib/app-error.ts'
import { hasPrototypeKeys } from '../lib/json-bounds.ts'
import { uuidNormaliser, type UuidNormaliser } from '../lib/uuid-normalisation.ts'
import { sharedSchemas } from '../../schemas/index.ts'
import { ClientFrameEnvelope, wsFrameSchemas } from '../../schemas/ws.ts'

/*
 * Frame validation with compiled TypeBox checkers (DESIGN §2: the schemas validate WS frames).
 * TypeBox knows no string formats by itself; the ones the shared schemas use are registered
 * here once, with the same meaning ajv gives them on the REST side.
 */
const FORMATS: Record<string, (value: string) => boolean> = {
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  'date-time': (v) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)),
  uri: (v) => { try { return new URL(v).protocol.length > 1 } catch { return false } },
  email: (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)
}
for (const [name, check] of Object.entries(FORMATS)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check)
}

/** A frame that passed the envelope check: a known shape, its payload not yet checked. */
export interface RawFrame {
  type: string
  payload?: unknown
  requestId?: string
  token?: string
}

const envelopeCheck = TypeCompiler.Compile(ClientFrameEnvelope)

const references = [...sharedSchemas, ...wsFrameSchemas]

/** Compiles a frame schema; the shared and frame schemas are its references, so `Ref()`s resolve. */
export function compileFrame<T extends TSchema> (schema: T): TypeCheck<T> {
  return TypeCompiler.Compile(schema, references)
}

const referencesById = new Map(references.flatMap((schema) => typeof schema.$id === 'string' ? [[schema.$id, schema] as const] : []))

/**
 * Lower-cases, in place, the `format: 'uuid'` fields a frame schema declares (DESIGN §6: UUIDs
 * are normalised where they enter), for frames that passed that schema; null when it declares
 * none. Content and other user text are never touched.
 */
export function frameUuidNormaliser (schema: TSchema): UuidNormaliser | null {
  return uuidNormaliser(schema, (id) => referencesById.get(id))
}

/** `/payload/metadata/mentions/0` → `metadata.mentions.0`: the field names REST uses too. */
function fieldOf (path: string): string {
  const parts = path.split('/').filter(Boolean)
  if (parts[0] === 'payload') parts.shift()
  return parts.length === 0 ? 'payload' : parts.join('.')
}

function validationError (issues: FieldError[]): AppError {
  return new AppError('VALIDATION_ERROR', 'Validation failed', undefined, issues)
}

/**
 * The checker's issues as `{field, message}`: one per field, none for a field whose children
 * already explain it, and bounded so a huge frame gives a short error.
 */
export function issuesOf<T extends TSchema> (check: TypeCheck<T>, value: unknown, max = 10): FieldError[] {
  const byField = new Map<string, string>()
  for (const error of check.Errors(value)) {
    const field = fieldOf(error.path)
    if (!byField.has(field)) byField.set(field, `${field} ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`)
    if (byField.size >= max * 2) break
  }
  const fields = [...byField.keys()]
  return fields
    .filter((field) => !fields.some((other) => other !== field && (field === 'payload' || other.startsWith(`${field}.`))))
    .slice(0, max)
    .map((field) => ({ field, message: byField.get(field) ?? `${field} is invalid` }))
}

/**
 * Parses one text frame into its envelope. Throws VALIDATION_ERROR (with the requestId when
 * it can be read) for anything that is not a JSON object with a string `type`, and for a frame
 * with `__proto__` or `constructor.prototype` keys, which REST bodies may not carry either.
 */
export function parseFrame (data: string): RawFrame {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    throw validationError([{ field: 'frame', message: 'frame is not valid JSON' }])
  }
  if (hasPrototypeKeys(data, value)) {
    throw validationError([{ field: 'frame', message: 'frame must not contain __proto__ or constructor.prototype keys' }])
  }
  if (!envelopeCheck.Check(value)) throw validationError(issuesOf(envelopeCheck, value))
  return value
}

/** Checks a frame against its command's compiled schema. */
export function assertFrame<T extends TSchema> (check: TypeCheck<T>, frame: RawFrame): void {
  if (!check.Check(frame)) throw validationError(issuesOf(check, frame))
}

/** The requestId of something that may not even be a valid frame, for correlating the error. */
export function requestIdOf (data: string): string | undefined {
  try {
    const value = JSON.parse(data) as { requestId?: unknown }
    return typeof value.requestId === 'string' && value.requestId.length <= 128 ? value.requestId : undefined
  } catch {
    return undefined
  }
}
