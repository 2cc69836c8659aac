/**
 * REDIS_URL names one Redis (`redis://`, `rediss://`) or a Redis Cluster by some of its nodes:
 * `redis+cluster://[user:password@]host1:7000,host2:7001` (`rediss+cluster://` for TLS). Any
 * reachable node is enough to start: the client learns the others from the cluster itself.
 */
export interface ClusterAddress {
  nodes: Array<{ host: string, port: number }>
  username?: string
  password?: string
  tls: boolean
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/

/** Whether the URL names a Redis Cluster rather than one Redis. */
export const isClusterUrl = (url: string): boolean => /^rediss?\+cluster:\/\//.test(url)

/** The cluster's seed nodes and credentials, or null when the URL names one Redis (or is malformed). */
export function parseClusterUrl (url: string): ClusterAddress | null {
  const match = CLUSTER_URL.exec(url)
  if (match === null) return null
  const [, scheme, credentials, hosts = ''] = match
  const nodes: ClusterAddress['nodes'] = []
  for (const hostPort of hosts.split(',')) {
    const parsed = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostPort.trim())
    if (parsed === null) return null
    const port = Number(parsed[2] ?? 6379)
    if (port < 1 || port > 65535) return null
    nodes.push({ host: (parsed[1] ?? '').replace(/^\[|\]$/g, ''), port })
  }
  const address: ClusterAddress = { nodes, tls: scheme === 'rediss' }
  if (credentials !== undefined && credentials !== '') {
    // As ioredis reads redis:// URLs: `user:password`, `:password`, or a user name alone.
    const colon = credentials.indexOf(':')
    const username = decodeURIComponent(colon === -1 ? credentials : credentials.slice(0, colon))
    if (username !== '') address.username = username
    if (colon !== -1) address.password = decodeURIComponent(credentials.slice(colon + 1))
  }
  return address
}
