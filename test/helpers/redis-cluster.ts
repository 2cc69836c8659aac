import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster } from 'ioredis'
import { until } from './wait.ts'

const run = promisify(execFile)

/** A Redis Cluster of `masters` nodes on loopback, made for one test file and gone after it. */
export interface LocalRedisCluster {
  /** The REDIS_URL that names it: `redis+cluster://127.0.0.1:<port>,…`. */
  url: string
  ports: number[]
  /** Removes every key under the prefix on every master (SCAN per node). */
  clear: (keyPrefix: string) => Promise<void>
  stop: () => Promise<void>
}

/** A TCP port nothing listens on now (the kernel's pick), and the +10000 bus port above it too. */
async function freePort (): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
      })
    })
    // Redis Cluster also listens on port + 10000 (the cluster bus), which must fit in 16 bits.
    if (port > 0 && port + 10000 < 65536) return port
  }
}

async function waitFor (check: () => Promise<boolean>, what: string): Promise<void> {
  await until(async () => await check().catch(() => false), { timeoutMs: 15_000, describe: () => `redis cluster: waiting for ${what}` })
}

async function cli (port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])
  return stdout
}

async function startNode (dir: string, port: number): Promise<ChildProcess> {
  const config = join(dir, `${port}.conf`)
  await writeFile(config, [
    `port ${port}`, 'bind 127.0.0.1', 'cluster-enabled yes', `cluster-config-file nodes-${port}.conf`,
    'cluster-node-timeout 5000', 'appendonly no', 'save ""', `dir ${dir}`, 'protected-mode no'
  ].join('\n'))
  const child = spawn('redis-server', [config], { stdio: 'ignore' })
  await waitFor(async () => (await cli(port, 'ping')).trim() === 'PONG', `node ${port} to answer`)
  return child
}

/**
 * Starts `masters` redis-server processes with `cluster-enabled yes` in a temp directory, joins
 * them with `redis-cli --cluster create … --cluster-replicas 0`, and waits until every node
 * reports the cluster ok. The caller stops it (with tap, `t.teardown(cluster.stop)` before the
 * apps that use it are built: teardowns run last-registered first, so the apps close first); the
 * processes are killed at exit in any case.
 */
export async function startRedisCluster (masters = 3): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-redis-cluster-'))
  const ports: number[] = []
  const children: ChildProcess[] = []
  const killAll = (): void => { for (const child of children) child.kill('SIGKILL') }
  process.once('exit', killAll)
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killAll)
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }))
    await rm(dir, { recursive: true, force: true })
  }
  for (let i = 0; i < masters; i += 1) {
    const port = await freePort()
    ports.push(port)
    children.push(await startNode(dir, port))
  }
  await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
  for (const port of ports) {
    await waitFor(async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'), `node ${port} to see the cluster ok`)
  }
  const url = `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`
  return { url, ports, clear: async (keyPrefix) => { await clearClusterKeys(url, keyPrefix) }, stop }
}

/** Deletes the keys under `keyPrefix` on every master of the cluster at `url`: SCAN runs per node. */
export async function clearClusterKeys (url: string, keyPrefix: string): Promise<void> {
  const nodes = url.replace(/^rediss?\+cluster:\/\//, '').split(',').map((hostPort) => {
    const [host = '127.0.0.1', port = '6379'] = hostPort.split(':')
    return { host, port: Number(port) }
  })
  const cluster = new Cluster(nodes)
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve)
      cluster.once('error', reject)
    })
    await Promise.all(cluster.nodes('master').map(async (node) => {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
        // Keys of one scan may sit in different slots: deleted one by one (UNLINK is per slot).
        await Promise.all(keys.map(async (key) => await cluster.unlink(key)))
        cursor = next
      } while (cursor !== '0')
    }))
  } finally {
    cluster.disconnect()
  }
}
