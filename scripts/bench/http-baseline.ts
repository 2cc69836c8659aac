import autocannon from 'autocannon'
import { argValue, freePort, report, rssMiB, startProcess, stopProcess } from './lib.ts'

/** Bare Fastify on this machine: the upper bound any Parley route can reach. */
const port = await freePort()
const server = await startProcess(new URL('./servers/bare-fastify.ts', import.meta.url).pathname, { PORT: String(port) }, `http://127.0.0.1:${port}/health`)
try {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/echo`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'hello world, this is a benchmark message' }),
    connections: argValue('connections', 64),
    duration: argValue('duration', 10)
  })
  report('bare-fastify-post', {
    requestsPerSecond: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    serverRssMiB: rssMiB(server.pid ?? 0)
  })
} finally {
  await stopProcess(server)
}
