/*
 * What may reach a log line: URLs without credentials in their query, errors without the values
 * a database error inlines.
 */

/** Query parameters that carry credentials, by decoded, lower-cased name. */
const SECRET_QUERY_NAMES = new Set(['token', 'ticket', 'access_token', 'accesstoken', 'refreshtoken', 'refresh_token', 'id_token', 'password'])
/** Decoding rounds per name: a name encoded twice (`%2574oken`) is still caught. */
const NAME_DECODE_ROUNDS = 3

/** A query parameter's name as the server's parser reads it (`+` is a space, %XX decoded), lower-cased. */
function decodedName (raw: string): string {
  let name = raw.replace(/\+/g, ' ')
  for (let round = 0; round < NAME_DECODE_ROUNDS && name.includes('%'); round++) {
    let decoded: string
    try { decoded = decodeURIComponent(name) } catch { break }
    if (decoded === name) break
    name = decoded
  }
  return name.trim().toLowerCase()
}

/**
 * A URL as it may be logged: the value of every credential query parameter replaced, found by
 * its decoded name (so `?%74oken=` and `?TOKEN=` are caught as `?token=` is).
 */
export function redactUrl (url: string): string {
  const start = url.indexOf('?')
  if (start < 0) return url
  let changed = false
  const pairs = url.slice(start + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=')
    if (equals < 0 || !SECRET_QUERY_NAMES.has(decodedName(pair.slice(0, equals)))) return pair
    changed = true
    return `${pair.slice(0, equals)}=[REDACTED]`
  })
  return changed ? `${url.slice(0, start + 1)}${pairs.join('&')}` : url
}

/** Properties of driver errors that hold the statement or its values. */
const STATEMENT_PROPERTIES = new Set(['sql', 'sqlMessage', 'parameters', 'values'])
/** A quoted name (key, column, table…) with no other quote before it. */
const LEADING_NAME = /^[^'"`]*?\b(?:key|column|table|index|constraint|database|schema)\s+(['`])[\w.$]{1,128}\1/i

interface DatabaseErrorLike extends Error {
  code?: unknown
  errno?: unknown
  sqlState?: unknown
  sqlMessage?: unknown
}

const isDatabaseError = (err: Error): err is DatabaseErrorLike =>
  'sqlState' in err || 'sqlMessage' in err || 'sql' in err

/**
 * A database message without the values it inlines. The server quotes values without escaping
 * the quotes inside them, so a value cannot be delimited reliably: the message is cut at the
 * first quote that does not open a name (after key, column, table…).
 *
 * @example
 * scrubSqlMessage("Duplicate entry 'a@b.c' for key 'email'") // "Duplicate entry …"
 * scrubSqlMessage("Data too long for column 'content' at row 1") // unchanged
 */
export function scrubSqlMessage (message: string): string {
  let kept = ''
  let rest = message
  for (let name = LEADING_NAME.exec(rest); name !== null; name = LEADING_NAME.exec(rest)) {
    kept += name[0]
    rest = rest.slice(name[0].length)
  }
  const quote = rest.search(/['"]/)
  return quote < 0 ? kept + rest : `${kept}${rest.slice(0, quote)}…`
}

/** Causes and inner errors followed this deep (a cycle must not loop). */
const MAX_CAUSE_DEPTH = 5

export interface SerializedError {
  type: string
  message: string
  stack: string
  [key: string]: unknown
}

/**
 * The log serializer of errors (pino's `err`): type, message, stack and the error's own
 * properties, like pino's standard one, except that a database error keeps only its code,
 * errno, sqlState and a message without values, and statement properties are never copied.
 */
export function serializeError (err: Error): SerializedError {
  return serializeErrorAt(err, 0)
}

function serializeUnknown (value: unknown, depth: number): unknown {
  return value instanceof Error ? serializeErrorAt(value, depth) : value
}

function serializeErrorAt (err: Error, depth: number): SerializedError {
  if (depth > MAX_CAUSE_DEPTH) return { type: 'Error', message: '[nested too deep]', stack: '' }
  const database = isDatabaseError(err)
  const message = database ? scrubSqlMessage(typeof err.sqlMessage === 'string' ? err.sqlMessage : err.message) : err.message
  // The stack's first line repeats the message: only the frames are kept from it.
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line))
  const out: SerializedError = { type: err.constructor.name || err.name, message, stack: [`${err.name}: ${message}`, ...frames].join('\n') }
  if (database) {
    for (const key of ['code', 'errno', 'sqlState'] as const) if (err[key] !== undefined) out[key] = err[key]
  } else {
    for (const [key, value] of Object.entries(err)) {
      if (STATEMENT_PROPERTIES.has(key) || key === 'cause' || key === 'errors') continue
      out[key] = serializeUnknown(value, depth + 1)
    }
    const inner: unknown = (err as { errors?: unknown }).errors
    if (Array.isArray(inner)) out.aggregateErrors = inner.map((e: unknown) => serializeUnknown(e, depth + 1))
  }
  if (err.cause !== undefined) out.cause = serializeUnknown(err.cause, depth + 1)
  return out
}
