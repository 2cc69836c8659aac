import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { getHeapStatistics } from 'node:v8'
import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import { isClusterUrl, parseClusterUrl } from './lib/store/redis-url.ts'

/**
 * The environment the service reads, validated once at start. Nothing else reads process.env.
 * Names and defaults follow DESIGN §3.
 */
export const Environment = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.String({ pattern: '^mysql://', default: 'mysql://root@127.0.0.1:3306/parley' }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
  REDIS_URL: Type.String({ pattern: '^(memory|rediss?(\\+cluster)?://.+)$', default: 'redis://127.0.0.1:6379' }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_.-]*$', default: 'parley:' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1 })),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  JWT_EXTERNAL_MAX_AGE_SECONDS: Type.Integer({ minimum: 60, maximum: 86400, default: 3600 }),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 2, maximum: 86400, default: 900 }),
  REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 31536000, default: 2592000 }),
  ENCRYPTION_MASTER_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
  API_PREFIX: Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$', default: '/mirror/api' }),
  WS_PATH: Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)+$', default: '/mirror/groups/chat' }),
  WS_ALLOWED_ORIGINS: Type.String({ default: '' }),
  WS_MAX_PAYLOAD_BYTES: Type.Integer({ minimum: 1024, maximum: 16777216, default: 65536 }),
  WS_MAX_CONNECTIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  WS_SEND_BUFFER_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 1048576 }),
  WS_BROADCAST_CONTENT: Type.Boolean({ default: false }),
  WS_PING_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 600000, default: 30000 }),
  WS_AUTH_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 5000 }),
  PRESENCE_GRACE_MS: Type.Integer({ minimum: 0, maximum: 3600000, default: 30000 }),
  TYPING_TTL_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 5000 }),
  TRUST_PROXY: Type.String({ pattern: '^[0-9a-fA-F:./, ]*$', default: '' }),
  RATE_LIMIT_SCALE: Type.Number({ exclusiveMinimum: 0, maximum: 1000000, default: 1 }),
  MAX_GROUP_MEMBERS: Type.Integer({ minimum: 2, maximum: 1000000, default: 10000 }),
  MAX_BROADCAST_MEMBERS: Type.Integer({ minimum: 2, maximum: 1000000, default: 100000 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 104857600, default: 1048576 }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  SECRETS_FILE: Type.String({ default: '.parley-secrets.json' }),
  ADMIN_USER_IDS: Type.String({ pattern: '^[0-9, ]*$', default: '' }),
  SPAM_KEYWORDS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, pattern: '^[\\x21-\\x7E]+$' })),
  CORS_ORIGINS: Type.String({ default: '' }),
  SERVE_DEMO: Type.Optional(Type.Boolean()),
  ATTACHMENTS_DIR: Type.String({ minLength: 1, default: './data/attachments' }),
  ATTACHMENT_MAX_BYTES: Type.Integer({ minimum: 1, maximum: 4294967296, default: 26214400 }),
  PUSH_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  PUSH_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  PUSH_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
  PUSH_WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 1, maximum: 3600000, default: 5000 }),
  PUSH_WEBHOOK_RETRY_WINDOW_MS: Type.Integer({ minimum: 0, maximum: 604800000, default: 86400000 }),
  NOTIFICATION_POLL_MS: Type.Integer({ minimum: 10, maximum: 600000, default: 1000 }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000 }),
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  OVERLOAD_MAX_HEAP_USED_BYTES: Type.Optional(Type.Integer({ minimum: 0 })),
  OVERLOAD_MAX_IN_FLIGHT: Type.Integer({ minimum: 0, maximum: 1000000, default: 256 }),
  OVERLOAD_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 500 }),
  OVERLOAD_RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 5 })
})
export type Environment = Static<typeof Environment>

export interface Config {
  production: boolean
  port: number
  host: string
  databaseUrl: string
  databasePoolSize: number
  /** `null` runs single-node with in-process pub/sub and an in-memory Redis. */
  redisUrl: string | null
  redisKeyPrefix: string
  jwt: {
    secret: string
    accessTtlSeconds: number
    refreshTtlSeconds: number
    external: ExternalIdentityProvider | null
  }
  encryptionMasterKey: Buffer
  apiPrefix: string
  ws: {
    path: string
    allowedOrigins: string[]
    maxPayloadBytes: number
    maxConnectionsPerUser: number
    sendBufferLimitBytes: number
    broadcastContent: boolean
    /** Interval of server pings; a connection that misses one is terminated. */
    pingIntervalMs: number
    /** How long a connection without `?token=`/`?ticket=` has to send its `auth` frame. */
    authTimeoutMs: number
  }
  presence: {
    /** A user goes offline this long after their last connection anywhere closes. */
    graceMs: number
    /** A typing indicator expires (and the expiry is broadcast) this long after its last start. */
    typingTtlMs: number
  }
  groups: {
    /** The most members a group holds (direct, group, public). */
    maxMembers: number
    /** The most members a broadcast group holds (only admins post, so its fanout is rare). */
    maxBroadcastMembers: number
  }
  trustProxy: string[]
  rateLimitScale: number
  bodyLimitBytes: number
  logLevel: Environment['LOG_LEVEL']
  /** System administrators by configuration; `npm run admin -- grant` adds others in the database. */
  adminUserIds: number[]
  /** The words and phrases of SPAM_KEYWORDS_FILE, read at start; empty without the file. */
  spamKeywords: string[]
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  metricsToken: string | null
  /** Origins a browser may call the API from; empty allows any origin, without credentials. */
  corsOrigins: string[]
  /** Serve the demo chat app (web/) at `/`. */
  serveDemo: boolean
  attachments: {
    /** Where the local attachment storage keeps its encrypted files (absolute; created on start). */
    dir: string
    /** The largest file an upload accepts; larger ones answer 413 and leave nothing behind. */
    maxBytes: number
  }
  notifications: {
    /** How often the workers look for notification jobs and due webhook deliveries besides being woken. */
    pollMs: number
    /** Offline recipients' notifications are POSTed here; null when PUSH_WEBHOOK_URL is unset. */
    pushWebhook: PushWebhookConfig | null
  }
  /** Past these (0: not checked) new requests get 503 and new WebSockets 1013 (src/plugins/overload.ts). */
  overload: {
    maxEventLoopDelayMs: number
    maxEventLoopUtilization: number
    maxHeapUsedBytes: number
    maxInFlight: number
    sampleIntervalMs: number
    retryAfterSeconds: number
  }
}

export interface PushWebhookConfig {
  url: string
  /** The HMAC-SHA256 key of X-Parley-Signature. */
  secret: string
  /** One delivery attempt's time limit. */
  timeoutMs: number
  /** The first retry waits about this long, each next one twice as long (with jitter), at most an hour. */
  retryBaseMs: number
  /** How long after its creation an event is retried before it is dead-lettered. */
  retryWindowMs: number
}

/** Without OVERLOAD_MAX_HEAP_USED_BYTES: refuse new work once the V8 heap is this full. */
export const DEFAULT_OVERLOAD_HEAP_FRACTION = 0.9

/** An external identity provider whose tokens are accepted beside the service's own. */
export interface ExternalIdentityProvider {
  publicKey: string
  issuer: string
  audience: string
  /** Oldest `iat` accepted, and the longest `exp − iat`. */
  maxAgeSeconds: number
}

interface DevSecrets {
  JWT_SECRET: string
  ENCRYPTION_MASTER_KEY: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Reads and validates the environment. Missing secrets are generated once into a git-ignored
 * file in development; with NODE_ENV=production they stop the start instead.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  let parsed: Environment
  try {
    parsed = envSchema<Environment>({ schema: Environment, data: env, env: false })
  } catch (err) {
    throw new ConfigError(`Invalid environment: ${describeEnvironmentErrors(err as Error & { errors?: unknown })}`)
  }

  const production = parsed.NODE_ENV === 'production'
  let jwtSecret = parsed.JWT_SECRET
  let masterKey = parsed.ENCRYPTION_MASTER_KEY
  if (jwtSecret === undefined || masterKey === undefined) {
    if (production) {
      const missing = [jwtSecret === undefined && 'JWT_SECRET', masterKey === undefined && 'ENCRYPTION_MASTER_KEY']
        .filter(Boolean).join(', ')
      throw new ConfigError(`Invalid environment: ${missing} must be set when NODE_ENV=production`)
    }
    const secrets = readOrCreateDevSecrets(resolve(parsed.SECRETS_FILE))
    jwtSecret ??= secrets.JWT_SECRET
    masterKey ??= secrets.ENCRYPTION_MASTER_KEY
  }

  if (isClusterUrl(parsed.REDIS_URL) && parseClusterUrl(parsed.REDIS_URL) === null) {
    throw new ConfigError('Invalid environment: REDIS_URL must name cluster nodes as redis+cluster://host1:port1,host2:port2')
  }
  const external = externalProviderOf(parsed)
  const corsOrigins = splitList(parsed.CORS_ORIGINS)
  const notOrigins = corsOrigins.filter((origin) => !/^https?:\/\/[^/\s]+$/.test(origin))
  if (notOrigins.length > 0) throw new ConfigError(`Invalid environment: CORS_ORIGINS must list origins such as https://app.example.com (not ${notOrigins.join(', ')})`)

  return {
    production,
    port: parsed.PORT,
    host: parsed.HOST,
    databaseUrl: parsed.DATABASE_URL,
    databasePoolSize: parsed.DATABASE_POOL_SIZE,
    redisUrl: parsed.REDIS_URL === 'memory' ? null : parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX,
    jwt: {
      secret: jwtSecret,
      accessTtlSeconds: parsed.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: parsed.REFRESH_TOKEN_TTL_SECONDS,
      external
    },
    encryptionMasterKey: Buffer.from(masterKey, 'base64'),
    apiPrefix: parsed.API_PREFIX,
    ws: {
      path: parsed.WS_PATH,
      allowedOrigins: splitList(parsed.WS_ALLOWED_ORIGINS),
      maxPayloadBytes: parsed.WS_MAX_PAYLOAD_BYTES,
      maxConnectionsPerUser: parsed.WS_MAX_CONNECTIONS_PER_USER,
      sendBufferLimitBytes: parsed.WS_SEND_BUFFER_LIMIT_BYTES,
      broadcastContent: parsed.WS_BROADCAST_CONTENT,
      pingIntervalMs: parsed.WS_PING_INTERVAL_MS,
      authTimeoutMs: parsed.WS_AUTH_TIMEOUT_MS
    },
    presence: {
      graceMs: parsed.PRESENCE_GRACE_MS,
      typingTtlMs: parsed.TYPING_TTL_MS
    },
    groups: {
      maxMembers: parsed.MAX_GROUP_MEMBERS,
      maxBroadcastMembers: parsed.MAX_BROADCAST_MEMBERS
    },
    trustProxy: splitList(parsed.TRUST_PROXY),
    rateLimitScale: parsed.RATE_LIMIT_SCALE,
    bodyLimitBytes: parsed.BODY_LIMIT_BYTES,
    logLevel: parsed.LOG_LEVEL,
    adminUserIds: parseUserIds(parsed.ADMIN_USER_IDS),
    spamKeywords: parsed.SPAM_KEYWORDS_FILE === undefined ? [] : readKeywordList(resolve(parsed.SPAM_KEYWORDS_FILE)),
    metricsToken: parsed.METRICS_TOKEN ?? null,
    corsOrigins,
    serveDemo: parsed.SERVE_DEMO ?? !production,
    attachments: {
      dir: resolve(parsed.ATTACHMENTS_DIR),
      maxBytes: parsed.ATTACHMENT_MAX_BYTES
    },
    notifications: { pollMs: parsed.NOTIFICATION_POLL_MS, pushWebhook: pushWebhookOf(parsed) },
    overload: {
      maxEventLoopDelayMs: parsed.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxEventLoopUtilization: parsed.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION,
      maxHeapUsedBytes: parsed.OVERLOAD_MAX_HEAP_USED_BYTES ?? Math.floor(getHeapStatistics().heap_size_limit * DEFAULT_OVERLOAD_HEAP_FRACTION),
      maxInFlight: parsed.OVERLOAD_MAX_IN_FLIGHT,
      sampleIntervalMs: parsed.OVERLOAD_SAMPLE_INTERVAL_MS,
      retryAfterSeconds: parsed.OVERLOAD_RETRY_AFTER_SECONDS
    }
  }
}

/** The webhook is off without a URL; with one, the signing secret is required. */
function pushWebhookOf (parsed: Environment): PushWebhookConfig | null {
  if (parsed.PUSH_WEBHOOK_URL === undefined) return null
  if (parsed.PUSH_WEBHOOK_SECRET === undefined) {
    throw new ConfigError('Invalid environment: PUSH_WEBHOOK_SECRET must be set when PUSH_WEBHOOK_URL is set (deliveries are signed with it)')
  }
  return {
    url: parsed.PUSH_WEBHOOK_URL,
    secret: parsed.PUSH_WEBHOOK_SECRET,
    timeoutMs: parsed.PUSH_WEBHOOK_TIMEOUT_MS,
    retryBaseMs: parsed.PUSH_WEBHOOK_RETRY_BASE_MS,
    retryWindowMs: parsed.PUSH_WEBHOOK_RETRY_WINDOW_MS
  }
}

/**
 * Tokens of an external provider are accepted only for this service: a key alone would accept
 * whatever the provider signs for any of its clients, so issuer and audience are required with it.
 */
function externalProviderOf (parsed: Environment): ExternalIdentityProvider | null {
  if (parsed.JWT_PUBLIC_KEY === undefined) return null
  const missing = [parsed.JWT_ISSUER === undefined && 'JWT_ISSUER', parsed.JWT_AUDIENCE === undefined && 'JWT_AUDIENCE'].filter(Boolean)
  if (parsed.JWT_ISSUER === undefined || parsed.JWT_AUDIENCE === undefined) {
    throw new ConfigError(`Invalid environment: ${missing.join(' and ')} must be set when JWT_PUBLIC_KEY is set (the issuer and audience external tokens must carry)`)
  }
  return {
    publicKey: parsed.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'),
    issuer: parsed.JWT_ISSUER,
    audience: parsed.JWT_AUDIENCE,
    maxAgeSeconds: parsed.JWT_EXTERNAL_MAX_AGE_SECONDS
  }
}

interface EnvironmentIssue {
  instancePath: string
  keyword: string
  message?: string
}

/**
 * One line per variable, naming it: `PORT must be integer; LOG_LEVEL must be one of fatal, …`.
 * A union's per-member complaints collapse into the list of values it accepts.
 */
function describeEnvironmentErrors (err: Error & { errors?: unknown }): string {
  if (!Array.isArray(err.errors)) return err.message
  const byVariable = new Map<string, string>()
  for (const issue of err.errors as EnvironmentIssue[]) {
    const name = issue.instancePath.replace(/^\//, '')
    if (issue.keyword === 'const' || name.length === 0) continue
    const schema = (Environment.properties as Record<string, { anyOf?: Array<{ const?: unknown }> }>)[name]
    const message = issue.keyword === 'anyOf' && schema?.anyOf !== undefined
      ? `must be one of ${schema.anyOf.map((member) => String(member.const)).join(', ')}`
      : issue.message ?? 'is invalid'
    if (!byVariable.has(name)) byVariable.set(name, `${name} ${message}`)
  }
  return byVariable.size > 0 ? [...byVariable.values()].join('; ') : err.message
}

function splitList (value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

function parseUserIds (value: string): number[] {
  const ids = splitList(value).map(Number)
  const bad = ids.find((id) => !Number.isSafeInteger(id) || id < 1 || id > 4294967295)
  if (bad !== undefined) throw new ConfigError(`Invalid environment: ADMIN_USER_IDS must be comma-separated user ids, got "${value}"`)
  return [...new Set(ids)]
}

/**
 * One keyword or phrase per line; blank lines and lines starting with # are skipped. Read once
 * at start: a file that cannot be read stops the start, like any bad setting.
 */
function readKeywordList (path: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`Invalid environment: SPAM_KEYWORDS_FILE ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  const keywords = text.split(/\r?\n/).map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'))
  return [...new Set(keywords)]
}

function readOrCreateDevSecrets (path: string): DevSecrets {
  if (existsSync(path)) {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevSecrets>
    if (typeof stored.JWT_SECRET === 'string' && typeof stored.ENCRYPTION_MASTER_KEY === 'string') {
      return { JWT_SECRET: stored.JWT_SECRET, ENCRYPTION_MASTER_KEY: stored.ENCRYPTION_MASTER_KEY }
    }
    throw new ConfigError(`Invalid environment: ${path} does not hold JWT_SECRET and ENCRYPTION_MASTER_KEY`)
  }
  const secrets: DevSecrets = {
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ENCRYPTION_MASTER_KEY: randomBytes(32).toString('base64')
  }
  // 'wx' never overwrites a file another process created meanwhile; 0600 keeps it private.
  try {
    writeFileSync(path, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateDevSecrets(path)
    throw err
  }
  return secrets
}
