import type { Cluster, Redis } from 'ioredis'

/**
 * How the bus reaches the other instances: Redis pub/sub on channels under the key prefix.
 * There is none in single-node mode (REDIS_URL=memory): every listener is local.
 */
export interface BusTransport {
  /** Sends a message to the instances listening on the channel; resolves when Redis took it. */
  publish: (channel: string, message: string) => Promise<void>
  /** Starts receiving the channel's messages (again after a reconnect, on its own). */
  listen: (channel: string) => Promise<void>
  unlisten: (channel: string) => Promise<void>
  /** Where received messages go, with the channel name as given to `listen`. */
  onMessage: (receive: (channel: string, message: string) => void) => void
  /** Drops the subscriber connection. */
  close: () => void
}

/**
 * Publishes on the shared connection (auto-pipelined with everything else) and listens on a
 * connection of its own, as Redis requires of a subscriber.
 */
export function redisBusTransport (redis: Redis, keyPrefix: string, onError: (err: Error) => void): BusTransport {
  // ioredis prefixes keys, not channels: the prefix is added here, once.
  // No ready check (INFO) and no client info (CLIENT SETINFO) on this connection: ioredis
  // writes a SUBSCRIBE issued while it connects at once, and sends those commands after it
  // (the client info waits on a file read), which Redis then refuses in subscriber mode; the
  // connection was dropped and an instance could stop hearing channels (notices among them).
  // No command timeout either: ioredis re-subscribes on reconnect without handling a failure,
  // so a SUBSCRIBE that timed out on a connection still recovering crashed the process.
  // Nothing waits on this connection's answers (listen and unlisten are fire and forget).
  const subscriber = redis.duplicate({ keyPrefix: '', enableAutoPipelining: false, enableReadyCheck: false, disableClientInfo: true, commandTimeout: undefined })
  subscriber.on('error', onError)
  return {
    async publish (channel, message) {
      await redis.publish(keyPrefix + channel, message)
    },
    async listen (channel) {
      await subscriber.subscribe(keyPrefix + channel)
    },
    async unlisten (channel) {
      await subscriber.unsubscribe(keyPrefix + channel)
    },
    onMessage (receive) {
      subscriber.on('message', (channel: string, message: string) => {
        if (channel.startsWith(keyPrefix)) receive(channel.slice(keyPrefix.length), message)
      })
    },
    close () {
      subscriber.disconnect()
    }
  }
}

/**
 * On a Redis Cluster: sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7+). A channel lives on the
 * shard that owns its slot, so each group's events cross one shard instead of being broadcast
 * to every node as cluster-wide PUBLISH is. The subscriber is a cluster client of its own with
 * one connection per master, which re-subscribes each channel where its slot moves.
 */
export function clusterBusTransport (cluster: Cluster, keyPrefix: string, onError: (err: Error) => void): BusTransport {
  // No command timeout, for the reason redisBusTransport gives.
  const subscriber = cluster.duplicate([], {
    keyPrefix: '',
    enableAutoPipelining: false,
    shardedSubscribers: true,
    redisOptions: { ...cluster.options.redisOptions, commandTimeout: undefined }
  })
  subscriber.on('error', onError)
  return {
    async publish (channel, message) {
      // SPUBLISH's channel routes like a key, so ioredis prefixes it on the shared connection itself.
      await cluster.spublish(channel, message)
    },
    async listen (channel) {
      await subscriber.ssubscribe(keyPrefix + channel)
    },
    async unlisten (channel) {
      await subscriber.sunsubscribe(keyPrefix + channel)
    },
    onMessage (receive) {
      subscriber.on('smessage', (channel: string, message: string) => {
        if (channel.startsWith(keyPrefix)) receive(channel.slice(keyPrefix.length), message)
      })
    },
    close () {
      subscriber.disconnect()
    }
  }
}
