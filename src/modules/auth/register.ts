import { duplicateKeyOf } from '../../../db/errors.ts'
import type { AuthTokens, RegisterRequest } from '../../../schemas/auth.ts'
import { AppError } from '../../lib/app-error.ts'
import type { AuthDeps } from './deps.ts'
import { hashPassword } from './passwords.ts'
import { startSession } from './sessions.ts'

/** Which of the users table's unique keys a duplicate hit. */
const duplicateField = (key: string): 'email' | 'username' => key.includes('username') ? 'username' : 'email'

/** Creates an account and signs it in; a taken email or username is a CONFLICT naming the field. */
export async function register (deps: AuthDeps, input: RegisterRequest): Promise<AuthTokens> {
  const email = input.email.toLowerCase()
  const displayName = input.displayName?.trim() ?? null
  const passwordHash = await hashPassword(input.password)
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const account = { email, username: input.username, displayName, passwordHash }
      const id = await deps.repo.insertUser(account, trx)
      return await startSession(deps, { id, email, username: input.username, display_name: displayName, avatar_url: null, password_hash: passwordHash }, trx)
    })
  } catch (err) {
    const key = duplicateKeyOf(err)
    if (key === null) throw err
    const field = duplicateField(key)
    throw new AppError('CONFLICT', field === 'email' ? 'Email is already registered' : 'Username is already taken', { field })
  }
}
