import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import type { Store } from '../../lib/store/store.ts'
import type { AccessTokenPayload } from '../../plugins/auth.ts'
import type { Bus } from '../../plugins/bus.ts'
import type { LoginThrottle } from './login-throttle.ts'
import type { AuthRepository } from './repository.ts'

/** What the auth functions read of the app's configuration. */
export interface AuthConfig {
  /** How long a session lives after its last refresh. */
  refreshTtlSeconds: number
}

/**
 * What the auth functions work with, handed over once when the service is assembled
 * (service.ts): nothing is looked up on the app at call time.
 */
export interface AuthDeps {
  db: Kysely<Database>
  repo: AuthRepository
  /** Failed sign-ins per (account, address) and per address (login-throttle.ts). */
  throttle: LoginThrottle
  /** Tells every instance which sessions ended (the `sessions_ended` notice). */
  bus: Bus
  /** Holds the WebSocket tickets (tickets.ts). */
  store: Store
  log: FastifyBaseLogger
  /** Signs an access token (the auth plugin's signer, plugins/auth.ts). */
  signAccessToken: (payload: AccessTokenPayload) => string
  /** The HMAC key of refresh tokens, derived from the JWT secret (refresh-token.ts). */
  refreshKey: Buffer
  /** A password hash no password matches: failed logins of unknown accounts cost the same argon2 work. */
  dummyHash: string
  config: AuthConfig
}
