import type { FastifyInstance } from 'fastify'
import type { PublicUser } from '../../schemas/users.ts'

export interface TestUser {
  user: PublicUser
  token: string
  refreshToken: string
  password: string
  /** `{ authorization: 'Bearer …' }` for inject. */
  auth: { authorization: string }
}

let counter = 0
let clients = 0

/**
 * A client address of its own for each call: the unauthenticated auth endpoints are limited per
 * IP, and a test file registering many users must not trip that limit.
 */
export function uniqueClientIp (): string {
  clients += 1
  return `198.18.${Math.floor(clients / 256) % 256}.${clients % 256}`
}

/** Registers a fresh user through the real API and returns its tokens. */
export async function registerUser (app: FastifyInstance, overrides: { username?: string, email?: string, password?: string, displayName?: string } = {}): Promise<TestUser> {
  counter += 1
  const suffix = `${process.pid}${counter}`
  const username = overrides.username ?? `user${suffix}`
  const password = overrides.password ?? 'correct horse battery staple'
  const res = await app.inject({
    method: 'POST',
    url: `${app.config.apiPrefix}/auth/register`,
    remoteAddress: uniqueClientIp(),
    payload: { email: overrides.email ?? `${username}@example.test`, username, password, displayName: overrides.displayName ?? `User ${suffix}` }
  })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const data = res.json().data as { token: string, refreshToken: string, user: PublicUser }
  return { ...data, password, auth: { authorization: `Bearer ${data.token}` } }
}
