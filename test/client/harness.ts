/*
 * The SDK's tests run @parley/client in Node against a real Parley: the app exactly as
 * production builds it, listening on a real port, over the real MariaDB and Redis. A "restart"
 * closes the app (its sockets get 1001) and builds a new one on the same database and port.
 */
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { ChatMessage } from '@parley/types'
import { buildApp } from '../../src/app.ts'
import type { Config } from '../../src/config.ts'
import { testConfig } from '../helpers/app.ts'
import { ParleyClient, type ParleyClientOptions, type WebSocketConstructor } from '../../client/src/index.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/** Fast reconnects, so tests do not wait out production backoffs. */
export const FAST_RECONNECT = { initialMs: 20, maxMs: 400, rateLimitedMs: 300 }

export interface Server {
  app: FastifyInstance
  config: Config
  port: number
  baseUrl: string
  /** Closes the running app; the next `start()` builds a new one on the same database and port. */
  stop: () => Promise<void>
  start: () => Promise<void>
  /** stop() then start(), with `downMs` of downtime between. */
  restart: (downMs?: number) => Promise<void>
}

/** A real Parley on the test file's own database, listening on a free port. */
export async function startServer (t: Teardown, fileUrl: string, env: Record<string, string> = {}): Promise<Server> {
  const config = await testConfig(fileUrl, { RATE_LIMIT_SCALE: '1000', ...env })
  let app = await buildApp(config)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  let running = true
  const server: Server = {
    get app () { return app },
    config,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop () {
      if (!running) return
      running = false
      await app.close()
    },
    async start () {
      if (running) return
      app = await buildApp(config)
      await app.listen({ port, host: '127.0.0.1' })
      running = true
    },
    async restart (downMs = 0) {
      await server.stop()
      if (downMs > 0) await sleep(downMs)
      await server.start()
    }
  }
  t.teardown(async () => { await server.stop() })
  return server
}

/** A client of the server, closed when the test ends. */
export function clientOf (t: Teardown, server: Server, options: ParleyClientOptions = {}): ParleyClient {
  const client = new ParleyClient({ baseUrl: server.baseUrl, reconnect: FAST_RECONNECT, requestTimeoutMs: 10_000, ...options })
  t.teardown(() => { client.close() })
  return client
}

let users = 0

/** Registers a fresh user through the client (which keeps the session). */
export async function signUp (client: ParleyClient, name = 'user'): Promise<number> {
  users += 1
  const username = `${name}${process.pid}x${users}`
  const { user } = await client.register({ email: `${username}@example.test`, username, password: 'correct horse battery staple', displayName: name })
  return user.id
}

/** Every `message` event of a client, in arrival order, with a bounded wait for a count. */
export function collect (client: ParleyClient): { messages: ChatMessage[], waitFor: (count: number, timeoutMs?: number) => Promise<ChatMessage[]> } {
  const messages: ChatMessage[] = []
  client.on('message', (message) => { messages.push(message) })
  return {
    messages,
    async waitFor (count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (messages.length < count && Date.now() < deadline) await sleep(20)
      return messages
    }
  }
}

/** Waits (bounded) until `check` holds. */
export async function until (check: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await sleep(20)
  return check()
}

/** The server's own sockets (to drop or close them with a code, as the server would). */
export function serverSockets (server: Server): Array<{ terminate: () => void, close: (code: number, reason?: string) => void }> {
  return [...server.app.websocketServer.clients]
}

/** Every message the server holds for the client's user in a group, oldest first (paged over REST). */
export async function history (client: ParleyClient, groupId: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = []
  let before: string | undefined
  for (;;) {
    const page = await client.rest.chat.listMessages(groupId, before === undefined ? { limit: 100 } : { limit: 100, before })
    all.push(...page.messages)
    if (!page.hasMore || page.nextCursor === null || page.nextCursor === undefined) return all.reverse()
    before = page.nextCursor
  }
}

/** The texts of messages, for order and duplicate checks. */
export const contents = (messages: ChatMessage[]): string[] => messages.map((m) => m.content)

/** `prefix-0` … `prefix-(n-1)`. */
export const numbered = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

/** The platform WebSocket, recording the URLs it opens and the frames it sends. */
export function recordingWebSocket (): { WebSocket: WebSocketConstructor, urls: string[], sent: Array<Record<string, unknown>> } {
  const urls: string[] = []
  const sent: Array<Record<string, unknown>> = []
  class Recording extends WebSocket {
    constructor (url: string) {
      urls.push(url)
      super(url)
    }

    override send (data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>)
      super.send(data)
    }
  }
  return { WebSocket: Recording as unknown as WebSocketConstructor, urls, sent }
}

export interface Pair {
  alice: ParleyClient
  bob: ParleyClient
  groupId: string
  bobId: number
}

/** Alice and Bob, both connected, in a new group both follow. */
export async function pair (t: Test, target: Server, options: Parameters<typeof clientOf>[2] = {}): Promise<Pair> {
  const alice = clientOf(t, target)
  const bob = clientOf(t, target, options)
  await signUp(alice, 'alice')
  const bobId = await signUp(bob, 'bob')
  const { group } = await alice.rest.groups.create({ name: 'Pair', memberIds: [bobId] })
  await Promise.all([alice.connect(), bob.connect()])
  await Promise.all([alice.joinGroup(group.id), bob.joinGroup(group.id)])
  return { alice, bob, groupId: group.id, bobId }
}

/** Seqs strictly ascending. */
export const isSeqOrdered = (messages: ChatMessage[]): boolean => messages.every((m, i) => i === 0 || (m.seq ?? 0) > (messages[i - 1]?.seq ?? 0))
