import { ParleyError, toParleyError } from './errors.ts'
import { clearTimer, setTimer, type FetchLike, type FormDataLike, type ResponseLike } from './platform.ts'
import type { Session } from './session.ts'

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** Query string values; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>

export interface RequestOptions {
  query?: Query | undefined
  body?: unknown
  /** A multipart body (an upload) instead of JSON. */
  form?: FormDataLike
  /** Sent without the access token (sign-up, sign-in, refresh). */
  anonymous?: boolean
}

export interface HttpOptions {
  /** Origin of the API, e.g. `https://chat.example.com` (no trailing slash). */
  baseUrl: string
  /** Path prefix of the REST API, e.g. `/mirror/api`. */
  apiPrefix: string
  fetch: FetchLike
  session: Session
  timeoutMs: number
}

/** Calls one REST endpoint; the building block of every typed method in rest/. */
export type Call = <T>(method: Method, path: string, options?: RequestOptions) => Promise<T>

/** `/groups/{groupId}/chat` with each `{name}` replaced by its URL-encoded value. */
export function pathOf (template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`missing path parameter ${name}`)
    return encodeURIComponent(String(value))
  })
}

function queryString (query: Query | undefined): string {
  if (query === undefined) return ''
  const parts = Object.entries(query)
    .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

/**
 * The REST transport: the Parley envelope unwrapped to its `data`, every failure a
 * ParleyError, and one token refresh on a 401 before the request is tried once more.
 */
export class Http {
  private readonly options: HttpOptions

  constructor (options: HttpOptions) {
    this.options = options
  }

  readonly call: Call = async <T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> => {
    const token = options.anonymous === true ? null : this.options.session.accessToken
    try {
      return await this.send<T>(method, path, options, token)
    } catch (err) {
      if (!(err instanceof ParleyError) || err.status !== 401 || token === null) throw err
      // The access token expired or was revoked: renew it once, then try once more.
      if (!await this.options.session.refresh()) throw err
      return await this.send<T>(method, path, options, this.options.session.accessToken)
    }
  }

  private async send<T>(method: Method, path: string, options: RequestOptions, token: string | null): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== null) headers.authorization = `Bearer ${token}`
    let body: string | undefined
    if (options.form !== undefined) {
      // fetch sets the multipart Content-Type with its boundary itself (see RequestInitLike.body).
      body = options.form as unknown as string
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    const url = `${this.options.baseUrl}${this.options.apiPrefix}${path}${queryString(options.query)}`
    const response = await this.withTimeout(this.options.fetch(url, body === undefined ? { method, headers } : { method, headers, body }))
    return unwrap<T>(response, await response.text().catch((err: unknown) => { throw toParleyError(err) }))
  }

  private async withTimeout (request: Promise<ResponseLike>): Promise<ResponseLike> {
    let timer: unknown = null
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimer(() => { reject(new ParleyError({ code: 'TIMEOUT', message: `No answer within ${this.options.timeoutMs} ms` })) }, this.options.timeoutMs)
    })
    try {
      return await Promise.race([request.catch((err: unknown) => { throw toParleyError(err) }), timeout])
    } finally {
      clearTimer(timer)
    }
  }
}

interface Envelope {
  success?: unknown
  data?: unknown
  error?: unknown
  code?: unknown
  details?: Record<string, unknown>
  validationErrors?: Array<{ field: string, message: string }>
}

function unwrap<T> (response: ResponseLike, text: string): T {
  let body: Envelope | null = null
  try {
    body = text.length === 0 ? null : JSON.parse(text) as Envelope
  } catch {
    body = null
  }
  if (body !== null && body.success === true && response.status < 300) return body.data as T
  if (body !== null && body.success === false && typeof body.code === 'string' && typeof body.error === 'string') {
    throw ParleyError.fromEnvelope({ error: body.error, code: body.code, details: body.details, validationErrors: body.validationErrors }, response.status)
  }
  throw new ParleyError({
    code: response.status >= 500 ? 'INTERNAL_ERROR' : 'INVALID_RESPONSE',
    message: `Unexpected answer (HTTP ${response.status})`,
    status: response.status
  })
}
