import type { AddressInfo } from 'node:net'
import type { Config } from '../config.ts'

/** Where a newcomer finds things once the server listens. */
export interface StartUrls {
  /** The demo chat app; null when SERVE_DEMO is off. */
  demo: string | null
  docs: string
  api: string
  websocket: string
}

/** The URLs of a server listening at `address`; a wildcard host is shown as the loopback address. */
export function startUrls (config: Config, address: AddressInfo | string | null): StartUrls {
  let host = config.host
  let port = config.port
  if (address !== null && typeof address === 'object') {
    host = address.address
    port = address.port
  }
  if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1'
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  return {
    demo: config.serveDemo ? `http://${authority}/` : null,
    docs: `http://${authority}/docs`,
    api: `http://${authority}${config.apiPrefix}`,
    websocket: `ws://${authority}${config.ws.path}`
  }
}

/** The one line the server logs when it is ready: `Parley is ready · demo … · docs … · WebSocket …`. */
export function startLine (urls: StartUrls): string {
  const parts = ['Parley is ready']
  if (urls.demo !== null) parts.push(`demo ${urls.demo}`)
  parts.push(`API docs ${urls.docs}`, `WebSocket ${urls.websocket}`)
  return parts.join(' · ')
}

/**
 * Human-readable log lines (pino-pretty) in development when stdout is a terminal; elsewhere
 * (production, a pipe, a log collector) undefined: the JSON lines go out unchanged.
 */
export async function prettyLogStream (config: Config, stdout: NodeJS.WritableStream & { isTTY?: boolean }): Promise<NodeJS.WritableStream | undefined> {
  if (config.production || stdout.isTTY !== true) return undefined
  const { default: pretty } = await import('pino-pretty')
  return pretty({ destination: stdout, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true })
}
