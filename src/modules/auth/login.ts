import type { AuthTokens, LoginRequest } from '../../../schemas/auth.ts'
import { AppError, invalid } from '../../lib/app-error.ts'
import { addressKey } from '../../lib/client-address.ts'
import type { AuthDeps } from './deps.ts'
import { verifyPassword } from './passwords.ts'
import type { AuthUserRow } from './repository.ts'
import { startSession } from './sessions.ts'

/** The one answer to a failed login, whether the account exists or not. */
const INVALID_CREDENTIALS = 'Invalid email, username or password'

/** The account a login names, and the throttle counter it counts against. */
async function findLoginUser (deps: AuthDeps, input: LoginRequest): Promise<{ user: AuthUserRow | null, account: string }> {
  const { email, username } = input
  if ((email === undefined) === (username === undefined)) {
    throw invalid(email === undefined ? 'email' : 'username', 'Give exactly one of email or username')
  }
  const user = email !== undefined
    ? await deps.repo.findUserByEmail(email.toLowerCase())
    : await deps.repo.findUserByUsername(username ?? '')
  // A known account has one counter whichever identifier is used; an unknown one still
  // gets a counter, so lockouts look the same for both.
  const account = user !== null
    ? `user:${user.id}`
    : email !== undefined ? `email:${email.toLowerCase()}` : `username:${(username ?? '').toLowerCase()}`
  return { user, account }
}

/** Signs in by email or username; failures are throttled per (account, address), per address, and slow the account down (login-throttle.ts). */
export async function login (deps: AuthDeps, input: LoginRequest, client: { ip: string }): Promise<AuthTokens> {
  const address = addressKey(client.ip)
  const { user, account } = await findLoginUser(deps, input)
  await deps.throttle.check(account, address)
  // The same argon2 work whether or not the account exists or has a password.
  const matches = await verifyPassword(user?.password_hash ?? deps.dummyHash, input.password)
  if (user === null || user.password_hash === null || !matches) {
    await deps.throttle.recordFailure(account, address)
    throw new AppError('UNAUTHORIZED', INVALID_CREDENTIALS)
  }
  await deps.throttle.recordSuccess(account, address)
  return await startSession(deps, user)
}
