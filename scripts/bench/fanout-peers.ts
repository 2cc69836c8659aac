import WebSocket from 'ws'
import { io as connectSocketIo, type Socket } from 'socket.io-client'
import { argValue, freePort, percentile, report, rssMiB, startProcess, stopProcess } from './lib.ts'

/*
 * Fanout ceiling and peer: one sender, N subscribers, M messages. Measures delivered events per
 * second, delivery latency and server memory for bare `ws` and for Socket.IO with its Redis
 * adapter. The Parley figure comes from fanout.ts, which runs the same shape against Parley.
 */
const subscribers = argValue('subscribers', 200)
const messages = argValue('messages', 500)
const here = (path: string): string => new URL(path, import.meta.url).pathname

interface Client { send: (data: string) => void, close: () => void, onMessage: (fn: (data: string) => void) => void }

async function wsClient (url: string): Promise<Client> {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return {
    send: (data) => { socket.send(data) },
    close: () => { socket.close() },
    onMessage: (fn) => { socket.on('message', (raw) => { fn(String(raw)) }) }
  }
}

async function socketIoClient (url: string): Promise<Client> {
  const socket: Socket = connectSocketIo(url, { transports: ['websocket'] })
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => { resolve() }); socket.once('connect_error', reject) })
  return {
    send: (data) => { socket.emit('message', data) },
    close: () => { socket.close() },
    onMessage: (fn) => { socket.on('message', (data: string) => { fn(data) }) }
  }
}

async function run (name: string, script: string, connect: (url: string) => Promise<Client>, url: (port: number) => string): Promise<void> {
  const port = await freePort()
  const server = await startProcess(here(script), { PORT: String(port) }, `http://127.0.0.1:${port}/`)
  try {
    const clients: Client[] = []
    for (let i = 0; i < subscribers; i++) clients.push(await connect(url(port)))
    const latencies: number[] = []
    let delivered = 0
    const expected = subscribers * messages
    const done = new Promise<void>((resolve) => {
      for (const client of clients) {
        client.onMessage((data) => {
          const sentAt = Number(JSON.parse(data).sentAt)
          latencies.push(performance.now() - sentAt)
          delivered += 1
          if (delivered === expected) resolve()
        })
      }
    })
    const sender = clients[0]
    const started = performance.now()
    for (let i = 0; i < messages; i++) {
      sender?.send(JSON.stringify({ i, sentAt: performance.now() }))
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))])
    const seconds = (performance.now() - started) / 1000
    latencies.sort((a, b) => a - b)
    report(name, {
      subscribers,
      messages,
      delivered,
      eventsPerSecond: Math.round(delivered / seconds),
      p50ms: Math.round(percentile(latencies, 0.5)),
      p99ms: Math.round(percentile(latencies, 0.99)),
      serverRssMiB: rssMiB(server.pid ?? 0)
    })
    for (const client of clients) client.close()
  } finally {
    await stopProcess(server)
  }
}

await run('bare-ws-fanout', 'servers/bare-ws.ts', wsClient, (port) => `ws://127.0.0.1:${port}/`)
await run('socketio-redis-fanout', 'servers/socketio-redis.ts', socketIoClient, (port) => `http://127.0.0.1:${port}`)
