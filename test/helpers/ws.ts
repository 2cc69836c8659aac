import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import type { FastifyInstance } from 'fastify'

/** A frame as the client sees it. */
export interface Frame {
  type: string
  payload: Record<string, unknown> & { [key: string]: unknown }
  requestId?: string
}

export interface Closed {
  code: number
  reason: string
}

export interface WsClient {
  ws: WebSocket
  /** Every frame received, in order. */
  frames: Frame[]
  /** Sends a frame (an object is JSON-encoded, a string is sent as is). */
  send: (frame: object | string) => void
  /** The next not-yet-taken frame of this type (or types, and matching `where`), waiting up to `timeoutMs`. */
  next: (type: string | string[], where?: (frame: Frame) => boolean, timeoutMs?: number) => Promise<Frame>
  /** Sends a command with a fresh requestId and waits for its chat:ack or chat:error. */
  request: (type: string, payload: object, timeoutMs?: number) => Promise<Frame>
  /** Resolves true if no frame of this type (matching `where`) arrives within `ms`. */
  quiet: (type: string, ms: number, where?: (frame: Frame) => boolean) => Promise<boolean>
  closed: Promise<Closed>
  close: () => Promise<Closed>
}

/** Starts the app on an ephemeral port (once) and returns its WebSocket URL. */
export async function wsUrl (app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return `ws://127.0.0.1:${port}${app.config.ws.path}`
}

export interface ConnectOptions {
  token?: string
  ticket?: string
  headers?: Record<string, string>
  /** Resolve even if the server closes the socket right after the upgrade. */
  allowClose?: boolean
}

/** Opens a real `ws` client to the app; frames are collected from the first byte. */
export async function connectWs (app: FastifyInstance, options: ConnectOptions = {}): Promise<WsClient> {
  const url = new URL(await wsUrl(app))
  if (options.token !== undefined) url.searchParams.set('token', options.token)
  if (options.ticket !== undefined) url.searchParams.set('ticket', options.ticket)
  const ws = new WebSocket(url, { headers: options.headers })
  const frames: Frame[] = []
  const untaken: Frame[] = []
  const waiters = new Set<() => void>()
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Frame
    frames.push(frame)
    untaken.push(frame)
    for (const wake of [...waiters]) wake()
  })
  const closed = new Promise<Closed>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const wake of [...waiters]) wake()
    })
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { resolve() })
    ws.once('unexpected-response', (_req, res) => { reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)) })
    ws.once('error', reject)
  })

  const take = (type: string | string[], where?: (frame: Frame) => boolean): Frame | undefined => {
    const types = Array.isArray(type) ? type : [type]
    const index = untaken.findIndex((f) => types.includes(f.type) && (where === undefined || where(f)))
    if (index < 0) return undefined
    return untaken.splice(index, 1)[0]
  }

  const next = async (type: string | string[], where?: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> => {
    const found = take(type, where)
    if (found !== undefined) return found
    return await new Promise<Frame>((resolve, reject) => {
      const wake = (): void => {
        const frame = take(type, where)
        if (frame !== undefined) {
          cleanup()
          resolve(frame)
        } else if (ws.readyState === ws.CLOSED) {
          cleanup()
          reject(new Error(`socket closed while waiting for ${String(type)}; got ${frames.map((f) => f.type).join(', ')}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        const errors = frames.filter((f) => f.type === 'chat:error').map((f) => JSON.stringify(f.payload)).slice(-3)
        reject(new Error(`no ${String(type)} within ${timeoutMs} ms; got ${frames.map((f) => f.type).join(', ')}${errors.length > 0 ? `; errors: ${errors.join(' ')}` : ''}`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        waiters.delete(wake)
      }
      waiters.add(wake)
    })
  }

  const client: WsClient = {
    ws,
    frames,
    send: (frame) => { ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) },
    next,
    async request (type, payload, timeoutMs = 10_000) {
      const requestId = randomUUID()
      client.send({ type, payload, requestId })
      return await next(['chat:ack', 'chat:error'], (f) => f.requestId === requestId, timeoutMs)
    },
    async quiet (type, ms, where) {
      try {
        await next(type, where, ms)
        return false
      } catch {
        return true
      }
    },
    closed,
    async close () {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000)
      return await closed
    }
  }
  return client
}

/** A connection of `user` that has had its chat:sync (kept as `sync`); closed when `t` ends, if given. */
export async function connected (app: FastifyInstance, user: { token: string }, t?: { teardown: (fn: () => unknown) => void }): Promise<WsClient & { sync: Frame }> {
  const client = await connectWs(app, { token: user.token })
  if (t !== undefined) t.teardown(async () => { await client.close() })
  return Object.assign(client, { sync: await client.next('chat:sync') })
}

/** A connection of `user` that has had its chat:sync and joined the group (from `sinceSeq` when given). */
export async function joined (app: FastifyInstance, user: { token: string }, groupId: string, sinceSeq?: number): Promise<WsClient> {
  const client = await connected(app, user)
  const ack = await client.request('chat:join_group', sinceSeq === undefined ? { groupId } : { groupId, sinceSeq })
  if (ack.type !== 'chat:ack') throw new Error(`join failed: ${JSON.stringify(ack.payload)}`)
  return client
}

/** The seqs of the chat:message frames `client` receives, up to and including `last`. */
export async function seqsUntil (client: WsClient, last: number, timeoutMs = 10_000): Promise<number[]> {
  const seqs: number[] = []
  while (seqs.at(-1) !== last && seqs.length <= last) seqs.push((await client.next('chat:message', undefined, timeoutMs)).payload.seq as number)
  return seqs
}
