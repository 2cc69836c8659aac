/*
 * The few platform facilities the SDK uses, typed structurally so the package needs neither the
 * DOM library nor Node's types: browsers and Node 22+ provide them all as globals (`fetch`,
 * `WebSocket`, `crypto.getRandomValues`, `atob`, timers); tests and other runtimes may inject
 * their own `fetch` and `WebSocket`.
 */

/** What the SDK reads of a `fetch` response. */
export interface ResponseLike {
  readonly status: number
  text: () => Promise<string>
  readonly headers: { get: (name: string) => string | null }
}

export interface RequestInitLike {
  method: string
  headers: Record<string, string>
  /**
   * JSON text, or for an upload the FormData itself (which every fetch accepts). Typed as a
   * string so that any function wrapping the platform fetch still fits FetchLike.
   */
  body?: string
}

/** A Blob or File (browsers and Node 22+ have both). */
export interface BlobLike {
  readonly size: number
  readonly type: string
}

/** What the SDK uses of FormData: the body of an upload, whose boundary fetch writes itself. */
export interface FormDataLike {
  append: (name: string, value: string | BlobLike, fileName?: string) => void
}

export type FormDataConstructor = new () => FormDataLike

/** The platform `fetch`, or any function with its shape. */
export type FetchLike = (url: string, init: RequestInitLike) => Promise<ResponseLike>

export interface MessageEventLike { readonly data: unknown }
export interface CloseEventLike { readonly code: number, readonly reason: string }

// Handlers typed as methods are compared bivariantly, so the DOM's and undici's WebSocket
// (whose handlers take their own event classes) are assignable to this shape.
type Handler<E> = { bivarianceHack (event: E): void }['bivarianceHack']

/** What the SDK uses of a WebSocket: the standard browser API, which Node 22+ has built in. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: Handler<unknown> | null
  onmessage: Handler<MessageEventLike> | null
  onclose: Handler<CloseEventLike> | null
  onerror: Handler<unknown> | null
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Tells the client when the device loses or regains its network (browsers' online/offline events). */
export interface NetworkMonitor {
  /** Registers the callbacks; returns a function that unregisters them. */
  watch: (onOnline: () => void, onOffline: () => void) => () => void
}

interface Globals {
  fetch?: FetchLike
  FormData?: FormDataConstructor
  WebSocket?: WebSocketConstructor
  crypto?: { getRandomValues: <T extends Uint8Array>(array: T) => T }
  atob?: (data: string) => string
  setTimeout: (callback: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
  addEventListener?: (type: string, listener: () => void) => void
  removeEventListener?: (type: string, listener: () => void) => void
  navigator?: { onLine?: boolean }
  location?: { origin?: string }
}

const platform = globalThis as unknown as Globals

export type TimerHandle = unknown

export function setTimer (callback: () => void, ms: number): TimerHandle {
  return platform.setTimeout(callback, ms)
}

export function clearTimer (handle: TimerHandle | null): void {
  if (handle !== null) platform.clearTimeout(handle)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise<void>((resolve) => { setTimer(resolve, ms) })
}

export function platformFetch (): FetchLike | undefined {
  const fetch = platform.fetch
  return fetch === undefined ? undefined : (url, init) => fetch(url, init)
}

/** A new FormData; throws where the platform has none. */
export function newFormData (): FormDataLike {
  const FormData = platform.FormData
  if (FormData === undefined) throw new Error('No FormData on this platform')
  return new FormData()
}

export function platformWebSocket (): WebSocketConstructor | undefined {
  return platform.WebSocket
}

/** The page's origin in a browser; undefined elsewhere. */
export function platformOrigin (): string | undefined {
  const origin = platform.location?.origin
  return typeof origin === 'string' && origin.startsWith('http') ? origin : undefined
}

/** The browser's online/offline events; null where there are none (Node). */
export function platformNetwork (): NetworkMonitor | null {
  const add = platform.addEventListener
  const remove = platform.removeEventListener
  if (typeof add !== 'function' || typeof remove !== 'function' || typeof platform.navigator?.onLine !== 'boolean') return null
  return {
    watch (onOnline, onOffline) {
      add.call(globalThis, 'online', onOnline)
      add.call(globalThis, 'offline', onOffline)
      return () => {
        remove.call(globalThis, 'online', onOnline)
        remove.call(globalThis, 'offline', onOffline)
      }
    }
  }
}

/** A random UUID v4 (crypto.getRandomValues exists in insecure browser contexts too, randomUUID does not). */
export function randomId (): string {
  const bytes = new Uint8Array(16)
  const crypto = platform.crypto
  if (crypto !== undefined) crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Decodes base64url (JWT segments). */
export function decodeBase64Url (segment: string): string {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(segment.length / 4) * 4, '=')
  const atob = platform.atob
  if (atob === undefined) throw new Error('atob is not available')
  const binary = atob(base64)
  // JWT payloads are UTF-8: decode multi-byte sequences from the binary string.
  return decodeURIComponent(Array.from(binary, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''))
}
