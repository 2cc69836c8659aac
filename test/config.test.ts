import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getHeapStatistics } from 'node:v8'
import { ConfigError, DEFAULT_OVERLOAD_HEAP_FRACTION, Environment, loadConfig } from '../src/config.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'parley-config-'))
t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })

interface Exit {
  code: number | null
  stderr: string
  stdout: string
}

/** Starts the service as `npm start` does, with only the given environment. */
function startServer (env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', SECRETS_FILE: join(scratch, 'unused-secrets.json'), ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    // A config error stops the start before anything listens; a live server would hang the test.
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, stdout })
    })
  })
}

const STACK_FRAME = /^\s+at /m

t.test('a PORT that is not a number stops the start with a message naming PORT', async (t) => {
  const exit = await startServer({ PORT: 'abc' })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /PORT/)
  t.notMatch(exit.stderr, STACK_FRAME, 'no stack trace')
})

t.test('a DATABASE_URL that is not mysql:// stops the start with a message naming DATABASE_URL', async (t) => {
  const exit = await startServer({ DATABASE_URL: 'postgres://x' })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /DATABASE_URL/)
  t.notMatch(exit.stderr, STACK_FRAME, 'no stack trace')
})

t.test('an unknown LOG_LEVEL is answered with the values it accepts', async (t) => {
  const exit = await startServer({ LOG_LEVEL: 'loud' })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/)
})

t.test('NODE_ENV=production without secrets stops the start naming JWT_SECRET and ENCRYPTION_MASTER_KEY', async (t) => {
  const exit = await startServer({ NODE_ENV: 'production' })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /JWT_SECRET/)
  t.match(exit.stderr, /ENCRYPTION_MASTER_KEY/)
  t.notMatch(exit.stderr, STACK_FRAME, 'no stack trace')
  t.notOk(existsSync(join(scratch, 'unused-secrets.json')), 'production never writes a secrets file')
})

t.test('NODE_ENV=production names only the secret that is missing', async (t) => {
  const exit = await startServer({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48) })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /ENCRYPTION_MASTER_KEY/)
  t.notMatch(exit.stderr, /JWT_SECRET/)
})

t.test('loadConfig throws a ConfigError naming the variable', async (t) => {
  t.throws(() => loadConfig({ RATE_LIMIT_SCALE: '0', SECRETS_FILE: join(scratch, 'unused-secrets.json') }), { name: 'ConfigError', message: /RATE_LIMIT_SCALE/ })
  t.throws(() => loadConfig({ JWT_SECRET: 'short', SECRETS_FILE: join(scratch, 'unused-secrets.json') }), ConfigError)
})

t.test('in development, missing secrets are generated once into SECRETS_FILE and reused', async (t) => {
  const file = join(scratch, 'dev-secrets.json')
  const first = loadConfig({ SECRETS_FILE: file })
  t.ok(existsSync(file), 'the secrets file is written')
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only')
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { JWT_SECRET: string, ENCRYPTION_MASTER_KEY: string }
  t.equal(first.jwt.secret, stored.JWT_SECRET)
  t.equal(first.encryptionMasterKey.length, 32, 'a 32-byte master key')
  t.same(first.encryptionMasterKey, Buffer.from(stored.ENCRYPTION_MASTER_KEY, 'base64'))

  const second = loadConfig({ SECRETS_FILE: file })
  t.equal(second.jwt.secret, first.jwt.secret, 'the same JWT secret on the next load')
  t.same(second.encryptionMasterKey, first.encryptionMasterKey, 'the same master key on the next load')
})

t.test('a secret set in the environment wins over the secrets file', async (t) => {
  const file = join(scratch, 'dev-secrets-2.json')
  loadConfig({ SECRETS_FILE: file })
  const secret = 'e'.repeat(40)
  t.equal(loadConfig({ SECRETS_FILE: file, JWT_SECRET: secret }).jwt.secret, secret)
})

t.test('the defaults follow DESIGN §3', async (t) => {
  const config = loadConfig({ SECRETS_FILE: join(scratch, 'dev-secrets-3.json') })
  t.match(config, {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: 'mysql://root@127.0.0.1:3306/parley',
    redisUrl: 'redis://127.0.0.1:6379',
    apiPrefix: '/mirror/api',
    ws: { path: '/mirror/groups/chat' },
    rateLimitScale: 1,
    trustProxy: []
  })
  t.equal(loadConfig({ SECRETS_FILE: join(scratch, 'dev-secrets-3.json'), REDIS_URL: 'memory' }).redisUrl, null, 'REDIS_URL=memory runs without Redis')
})

t.test('overload thresholds: event-loop delay 1000 ms, 256 requests in flight and 90% of the heap limit by default, 0 turns a check off', async (t) => {
  const secrets = join(scratch, 'dev-secrets-3.json')
  const { overload } = loadConfig({ SECRETS_FILE: secrets })
  t.match(overload, { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0, maxInFlight: 256, sampleIntervalMs: 500, retryAfterSeconds: 5 })
  t.equal(overload.maxHeapUsedBytes, Math.floor(getHeapStatistics().heap_size_limit * DEFAULT_OVERLOAD_HEAP_FRACTION))
  t.match(loadConfig({ SECRETS_FILE: secrets, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_HEAP_USED_BYTES: '0' }).overload, { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 })
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '1.5' }), { name: 'ConfigError' })
})

t.test('REDIS_URL may name a Redis Cluster by its nodes; a malformed node list stops the start', async (t) => {
  const secrets = join(scratch, 'dev-secrets-3.json')
  t.equal(loadConfig({ SECRETS_FILE: secrets, REDIS_URL: 'redis+cluster://h1:7000,h2:7001' }).redisUrl, 'redis+cluster://h1:7000,h2:7001')
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, REDIS_URL: 'redis+cluster://h1:7000,,h2' }), { name: 'ConfigError', message: /REDIS_URL/ })
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, REDIS_URL: 'cluster://h1:7000' }), { name: 'ConfigError', message: /REDIS_URL/ })
})

t.test('ADMIN_USER_IDS is a comma-separated list of user ids', async (t) => {
  const secrets = join(scratch, 'dev-secrets-4.json')
  t.same(loadConfig({ SECRETS_FILE: secrets }).adminUserIds, [], 'nobody by default')
  t.same(loadConfig({ SECRETS_FILE: secrets, ADMIN_USER_IDS: '3, 17,3' }).adminUserIds, [3, 17])
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, ADMIN_USER_IDS: 'alice' }), { name: 'ConfigError', message: /ADMIN_USER_IDS/ })
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, ADMIN_USER_IDS: '0' }), { name: 'ConfigError', message: /ADMIN_USER_IDS/ })
})

t.test('SPAM_KEYWORDS_FILE is read at start: one keyword or phrase a line, # comments and blank lines skipped', async (t) => {
  const secrets = join(scratch, 'dev-secrets-5.json')
  const file = join(scratch, 'spam-words.txt')
  writeFileSync(file, '# promotions\nfree money\n\n  casino  \r\ncasino\n')
  t.same(loadConfig({ SECRETS_FILE: secrets, SPAM_KEYWORDS_FILE: file }).spamKeywords, ['free money', 'casino'])
  t.same(loadConfig({ SECRETS_FILE: secrets }).spamKeywords, [], 'no list without the file')
})

t.test('a SPAM_KEYWORDS_FILE that cannot be read stops the start naming it', async (t) => {
  const missing = join(scratch, 'no-such-list.txt')
  t.throws(() => loadConfig({ SECRETS_FILE: join(scratch, 'dev-secrets-6.json'), SPAM_KEYWORDS_FILE: missing }), { name: 'ConfigError', message: /SPAM_KEYWORDS_FILE .*no-such-list\.txt.*ENOENT/ })
})

t.test('METRICS_TOKEN is optional and at least 16 characters when set', async (t) => {
  const secrets = join(scratch, 'dev-secrets-7.json')
  t.equal(loadConfig({ SECRETS_FILE: secrets }).metricsToken, null)
  t.equal(loadConfig({ SECRETS_FILE: secrets, METRICS_TOKEN: 'scrape-me-please-0001' }).metricsToken, 'scrape-me-please-0001')
  t.throws(() => loadConfig({ SECRETS_FILE: secrets, METRICS_TOKEN: 'short' }), { name: 'ConfigError', message: /METRICS_TOKEN/ })
})

t.test('.gitignore keeps the default secrets file out of git', async (t) => {
  const ignored = readFileSync(join(root, '.gitignore'), 'utf8').split('\n').map((line) => line.trim())
  t.ok(ignored.includes('.parley-secrets.json') || ignored.includes('/.parley-secrets.json'))
  t.equal(Environment.properties.SECRETS_FILE.default, '.parley-secrets.json', 'which is the default SECRETS_FILE')
})

t.test('JWT_PUBLIC_KEY without JWT_ISSUER and JWT_AUDIENCE stops the start naming both', async (t) => {
  const exit = await startServer({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEA\\n-----END PUBLIC KEY-----' })
  t.equal(exit.code, 1)
  t.match(exit.stderr, /JWT_ISSUER and JWT_AUDIENCE must be set when JWT_PUBLIC_KEY is set/)
  t.notMatch(exit.stderr, STACK_FRAME, 'no stack trace')
})

t.test('JWT_PUBLIC_KEY with only one of JWT_ISSUER and JWT_AUDIENCE is refused naming the missing one', async (t) => {
  const base = { SECRETS_FILE: join(scratch, 'dev-secrets-idp.json'), JWT_PUBLIC_KEY: 'a key' }
  t.throws(() => loadConfig({ ...base, JWT_ISSUER: 'https://idp.example.test/' }), { name: 'ConfigError', message: /^Invalid environment: JWT_AUDIENCE must be set when JWT_PUBLIC_KEY is set/ })
  t.throws(() => loadConfig({ ...base, JWT_AUDIENCE: 'parley' }), { name: 'ConfigError', message: /^Invalid environment: JWT_ISSUER must be set when JWT_PUBLIC_KEY is set/ })
})

t.test('an external identity provider gets its issuer, audience and a token age cap of 3600 s by default', async (t) => {
  const env = { SECRETS_FILE: join(scratch, 'dev-secrets-idp.json'), JWT_PUBLIC_KEY: 'line one\\nline two', JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'parley' }
  t.same(loadConfig(env).jwt.external, { publicKey: 'line one\nline two', issuer: 'https://idp.example.test/', audience: 'parley', maxAgeSeconds: 3600 })
  t.equal(loadConfig({ ...env, JWT_EXTERNAL_MAX_AGE_SECONDS: '600' }).jwt.external?.maxAgeSeconds, 600)
  t.throws(() => loadConfig({ ...env, JWT_EXTERNAL_MAX_AGE_SECONDS: '0' }), { name: 'ConfigError', message: /JWT_EXTERNAL_MAX_AGE_SECONDS/ })
})
