import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PushWebhookPayload } from '../../schemas/notifications.ts'

/** One POST the push webhook made. */
export interface Received {
  eventId: string
  timestamp: string
  signature: string
  raw: string
  body: PushWebhookPayload
}

/** A real HTTP receiver on port 0: records every POST and answers as the test says. */
export class Receiver {
  readonly received: Received[] = []
  /** Requests of one event in progress at once, at most (the double-post check). */
  maxConcurrentPerEvent = 0
  respond: (request: Received) => number | Promise<number> = () => 200
  private readonly inFlight = new Map<string, number>()
  private readonly waiters = new Set<() => void>()
  private readonly server = createServer((req, res) => { void this.handle(req, res) })
  url = ''

  async start (): Promise<void> {
    await new Promise<void>((resolve) => { this.server.listen(0, '127.0.0.1', resolve) })
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/push`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const request: Received = {
      eventId: String(req.headers['x-parley-event-id']),
      timestamp: String(req.headers['x-parley-timestamp']),
      signature: String(req.headers['x-parley-signature']),
      raw,
      body: JSON.parse(raw) as PushWebhookPayload
    }
    const current = (this.inFlight.get(request.eventId) ?? 0) + 1
    this.inFlight.set(request.eventId, current)
    this.maxConcurrentPerEvent = Math.max(this.maxConcurrentPerEvent, current)
    // Over when answered or when the sender gives up (closes the connection), whichever is first.
    res.once('close', () => { this.inFlight.set(request.eventId, (this.inFlight.get(request.eventId) ?? 1) - 1) })
    this.received.push(request)
    for (const wake of [...this.waiters]) wake()
    const status = await this.respond(request)
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end('ok')
  }

  /** Waits until `count` requests match. */
  async nth (count: number, where: (r: Received) => boolean, timeoutMs = 20_000): Promise<Received[]> {
    const matching = (): Received[] => this.received.filter(where)
    if (matching().length >= count) return matching()
    return await new Promise<Received[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake)
        reject(new Error(`only ${matching().length} of ${count} requests within ${timeoutMs} ms`))
      }, timeoutMs)
      const wake = (): void => {
        if (matching().length < count) return
        clearTimeout(timer)
        this.waiters.delete(wake)
        resolve(matching())
      }
      this.waiters.add(wake)
    })
  }
}
