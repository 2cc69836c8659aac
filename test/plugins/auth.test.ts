import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, TEST_JWT_SECRET } from '../helpers/app.ts'
import { registerUser, type TestUser } from '../helpers/users.ts'
import { toBin } from '../../src/lib/ids.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)

const me = '/mirror/api/auth/me'

async function meWith (app: FastifyInstance, token: string) {
  return await app.inject({ method: 'GET', url: me, headers: { authorization: `Bearer ${token}` } })
}

/** The claims of a real session, to re-sign in ways the service must refuse. */
function claimsOf (app: FastifyInstance, user: TestUser): { id: number, username: string, email: string, sessionId: string } {
  const decoded = app.jwt.decode<{ sessionId: string }>(user.token)
  return { id: user.user.id, username: user.user.username, email: user.user.email, sessionId: decoded?.sessionId ?? '' }
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

t.test('a token signed with the service secret and a live session is accepted', async (t) => {
  const user = await registerUser(app)
  const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 })(claimsOf(app, user))
  t.equal((await meWith(app, token)).statusCode, 200)
})

t.test('an expired token gets 401', async (t) => {
  const user = await registerUser(app)
  const hourAgo = Date.now() - 3_600_000
  const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', clockTimestamp: hourAgo, expiresIn: 60_000 })(claimsOf(app, user))
  const res = await meWith(app, token)
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
})

t.test('a token signed with another secret gets 401', async (t) => {
  const user = await registerUser(app)
  const token = createSigner({ key: 'another-secret-that-is-long-enough-for-hs256-xyz', algorithm: 'HS256', expiresIn: 60_000 })(claimsOf(app, user))
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('an unsigned token (alg "none") gets 401', async (t) => {
  const user = await registerUser(app)
  const now = Math.floor(Date.now() / 1000)
  const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claimsOf(app, user), iat: now, exp: now + 60 })}.`
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('a token without exp gets 401', async (t) => {
  const user = await registerUser(app)
  const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })(claimsOf(app, user))
  t.notOk(app.jwt.decode<{ exp?: number }>(token)?.exp, 'the token really has no exp')
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('a token without a sessionId gets 401', async (t) => {
  const user = await registerUser(app)
  const { sessionId: _sessionId, ...claims } = claimsOf(app, user)
  const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 })(claims)
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('a token for a revoked session gets 401', async (t) => {
  const user = await registerUser(app)
  await app.db.updateTable('auth_sessions').set({ revoked_at: new Date(), revoked_reason: 'test' })
    .where('id', '=', toBin(claimsOf(app, user).sessionId)).execute()
  const res = await meWith(app, user.token)
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
})

t.test('a token naming another user\'s session gets 401', async (t) => {
  const alice = await registerUser(app)
  const mallory = await registerUser(app)
  const token = app.signAccessToken({ ...claimsOf(app, mallory), sessionId: claimsOf(app, alice).sessionId })
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('a request without a bearer token or with a malformed header gets 401', async (t) => {
  for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer ', 'Bearer not.a.jwt', 'Bearer ' + 'x'.repeat(5000)]) {
    const res = await app.inject({ method: 'GET', url: me, headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, String(authorization).slice(0, 20))
    t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
  }
})

t.test('an RS256 token is refused when no external identity provider is configured', async (t) => {
  const user = await registerUser(app)
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const token = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', expiresIn: 60_000 })(claimsOf(app, user))
  t.equal((await meWith(app, token)).statusCode, 401)
})

t.test('tokens of an external identity provider', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const env = { JWT_PUBLIC_KEY: publicPem, JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'parley' }
  const externalToken = (payload: Record<string, unknown>, options: { iss?: string, aud?: string, expiresIn?: number } = {}) =>
    createSigner({ key: privatePem, algorithm: 'RS256', iss: options.iss ?? env.JWT_ISSUER, aud: options.aud ?? env.JWT_AUDIENCE, ...(options.expiresIn === 0 ? {} : { expiresIn: options.expiresIn ?? 60_000 }) })(payload)
  // This group's own app, built with the provider's settings.
  const app = await buildTestApp(t, import.meta.url, { env })

  t.test('an RS256 token with the configured issuer and audience is accepted for a registered user', async (t) => {
    const { user } = await registerUser(app)
    const res = await meWith(app, externalToken({ id: user.id, username: user.username, email: user.email }))
    t.equal(res.statusCode, 200)
    t.same(res.json().data, { user })
  })

  t.test('the service\'s own tokens keep working beside the external provider', async (t) => {
    const { token } = await registerUser(app)
    t.equal((await meWith(app, token)).statusCode, 200)
  })

  t.test('an external token from another issuer gets 401', async (t) => {
    const { user } = await registerUser(app)
    const res = await meWith(app, externalToken({ id: user.id, username: user.username, email: user.email }, { iss: 'https://evil.example.test/' }))
    t.equal(res.statusCode, 401)
    t.match(res.json(), { code: 'UNAUTHORIZED' })
  })

  t.test('an external token for another audience gets 401', async (t) => {
    const { user } = await registerUser(app)
    t.equal((await meWith(app, externalToken({ id: user.id, username: user.username, email: user.email }, { aud: 'someone-else' }))).statusCode, 401)
  })

  t.test('an external token without exp gets 401', async (t) => {
    const { user } = await registerUser(app)
    t.equal((await meWith(app, externalToken({ id: user.id, username: user.username, email: user.email }, { expiresIn: 0 }))).statusCode, 401)
  })

  t.test('an external token for a user who does not exist gets 401', async (t) => {
    t.equal((await meWith(app, externalToken({ id: 4_000_000_000, username: 'ghost', email: 'ghost@example.test' }))).statusCode, 401)
  })

  t.test('an external token signed by another key gets 401', async (t) => {
    const { user } = await registerUser(app)
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const token = createSigner({ key: other, algorithm: 'RS256', iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, expiresIn: 60_000 })({ id: user.id, username: user.username, email: user.email })
    t.equal((await meWith(app, token)).statusCode, 401)
  })

  t.test('an HS256 token keyed with the public key (algorithm confusion) gets 401', async (t) => {
    const { user } = await registerUser(app)
    const token = createSigner({ key: publicPem, algorithm: 'HS256', iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, expiresIn: 60_000 })({ id: user.id, username: user.username, email: user.email })
    t.equal((await meWith(app, token)).statusCode, 401)
  })

  /** A token with exactly these claims (plus the identity claims): nothing added by the signer. */
  const rawExternalToken = (user: TestUser['user'], claims: Record<string, unknown>) =>
    createSigner({ key: privatePem, algorithm: 'RS256', noTimestamp: !('iat' in claims) })({ id: user.id, username: user.username, email: user.email, ...claims })
  const now = () => Math.floor(Date.now() / 1000)

  t.test('an external token without iss gets 401', async (t) => {
    const { user } = await registerUser(app)
    const res = await meWith(app, rawExternalToken(user, { aud: env.JWT_AUDIENCE, iat: now(), exp: now() + 600 }))
    t.equal(res.statusCode, 401)
    t.match(res.json(), { code: 'UNAUTHORIZED' })
  })

  t.test('an external token without aud gets 401', async (t) => {
    const { user } = await registerUser(app)
    t.equal((await meWith(app, rawExternalToken(user, { iss: env.JWT_ISSUER, iat: now(), exp: now() + 600 }))).statusCode, 401)
  })

  t.test('an external token without iat gets 401', async (t) => {
    const { user } = await registerUser(app)
    t.equal((await meWith(app, rawExternalToken(user, { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, exp: now() + 600 }))).statusCode, 401)
  })

  t.test('an external token valid for longer than JWT_EXTERNAL_MAX_AGE_SECONDS (exp − iat > 3600) gets 401', async (t) => {
    const { user } = await registerUser(app)
    const claims = { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now() }
    t.equal((await meWith(app, rawExternalToken(user, { ...claims, exp: claims.iat + 3600 }))).statusCode, 200, 'exactly the cap is accepted')
    t.equal((await meWith(app, rawExternalToken(user, { ...claims, exp: claims.iat + 3601 }))).statusCode, 401)
  })

  t.test('an external token issued more than JWT_EXTERNAL_MAX_AGE_SECONDS ago gets 401', async (t) => {
    const { user } = await registerUser(app)
    const iat = now() - 3700
    t.equal((await meWith(app, rawExternalToken(user, { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat, exp: now() + 60 }))).statusCode, 401)
  })

  t.test('an external token issued in the future gets 401', async (t) => {
    const { user } = await registerUser(app)
    const iat = now() + 3600
    t.equal((await meWith(app, rawExternalToken(user, { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat, exp: iat + 1800 }))).statusCode, 401)
  })

  t.test('an external user is the local user its id claim names: name and email come from the local row', async (t) => {
    const { user } = await registerUser(app)
    const token = externalToken({ id: user.id, username: 'impostor', email: 'impostor@example.test' })
    const headers = { authorization: `Bearer ${token}` }
    const created = await app.inject({ method: 'POST', url: '/mirror/api/groups', headers, payload: { name: 'External' } })
    t.equal(created.statusCode, 201)
    const groupId = created.json().data.group.id as string
    const sent = await app.inject({ method: 'POST', url: `/mirror/api/groups/${groupId}/chat/messages`, headers, payload: { content: 'hello' } })
    t.equal(sent.statusCode, 201)
    t.match(sent.json().data.message, { senderUserId: user.id, senderUsername: user.username })
  })

  t.test('logging out with an external token answers 200 and revokes nothing here', async (t) => {
    const { user } = await registerUser(app)
    const token = externalToken({ id: user.id, username: user.username, email: user.email })
    const res = await app.inject({ method: 'POST', url: '/mirror/api/auth/logout', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { data: { loggedOut: true } })
  })
})
