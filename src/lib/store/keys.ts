/*
 * Every key and channel name of the shared store, in one place. In Redis each lives under
 * REDIS_KEY_PREFIX (ioredis adds it to keys; the bus transport adds it to channels, which on
 * a Redis Cluster are sharded: a channel lives on the node owning its slot); the
 * in-process store uses the same names. What each key holds is documented where its
 * operations are written: src/lib/store/*.ts and src/modules/presence/store.ts.
 */

/*
 * On a Redis Cluster a key's slot comes from its hash tag ({…}) when it has one: keys that a
 * script or a MULTI touches together carry the same tag so they land in one slot. Every other
 * operation touches one key.
 */

/** A user's live WebSocket connections: connection id → expiry (ms), refreshed by the heartbeat. */
export const presenceConnectionsKey = (userId: number): string => `presence:{u${userId}}:c`
/** A user's shown presence: status, device, visible, seen (same slot as the connections: one script). */
export const presenceUserKey = (userId: number): string => `presence:{u${userId}}:u`
/** Who is typing in a group: user id → expiry, start and username. */
export const typingKey = (groupId: string): string => `typing:${groupId}`
/** The group's subscribed connections on every instance: connection id → expiry (ms). */
export const subscribersKey = (groupId: string): string => `subs:${groupId}`
/** The users subscribed to a group on any instance (the send ack's deliveredToCount): user id → expiry (ms). */
export const audienceKey = (groupId: string): string => `audience:${groupId}`
/** A WebSocket ticket, by the SHA-256 (hex) of the ticket: never the ticket itself. */
export const wsTicketKey = (ticketHash: string): string => `wsticket:${ticketHash}`

/**
 * Failed sign-ins (src/modules/auth/login-throttle.ts): fixed-window counters per (account,
 * address) pair, per address and per account, and the wait an address owes an account. `account`
 * is `user:<id>`, `email:<address>` or `username:<name>`; `address` a client address key.
 */
export const loginKeys = {
  pair: (account: string, address: string): string => `loginfail:pair:${account}:${address}`,
  address: (address: string): string => `loginfail:ip:${address}`,
  account: (account: string): string => `loginfail:acct:${account}`,
  wait: (account: string, address: string): string => `loginwait:${account}:${address}`
} as const

/** WebSocket upgrades of one client address in a fixed window. */
export const wsUpgradeKey = (address: string): string => `wsupgrade:${address}`

/** The spam rule's claim on recent content: one per (group, sender, hash of the normalised text). */
export const recentContentKey = (groupId: string, senderId: number, contentHash: string): string =>
  `spam:recent:${groupId}:${senderId}:${contentHash}`

/** An HTTP rate-limit window: a category (send, search, other…) and who spends it (`u<id>`, `ip<address>`). */
export const rateLimitKey = (category: string, who: string): string => `rl:${category}:${who}`

/**
 * The bus channel of an event's target: a group's subscribers or one user's connections
 * (pub/sub channel names are not keys: the bus transport adds the prefix).
 */
export const busChannel = (target: { groupId: string } | { userId: number }): string =>
  'groupId' in target ? `bus:g:${target.groupId}` : `bus:u:${target.userId}`

/** The one channel of internal notices between instances (never sent to clients). */
export const BUS_NOTICE_CHANNEL = 'bus:notices'
