import type { ChangePasswordRequest, PasswordChanged } from '../../../schemas/auth.ts'
import { AppError, notFound } from '../../lib/app-error.ts'
import { addressKey } from '../../lib/client-address.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import type { AuthDeps } from './deps.ts'
import { hashPassword, verifyPassword } from './passwords.ts'
import { sessionsEnded } from './sessions.ts'

/** Changes the caller's password and ends every other session of theirs. */
export async function changePassword (deps: AuthDeps, caller: AuthUser, input: ChangePasswordRequest, client: { ip: string }): Promise<PasswordChanged> {
  if (caller.external) throw new AppError('FORBIDDEN', 'The identity provider manages this account\'s password')
  const user = await deps.repo.findUserById(caller.id)
  if (user === null) throw notFound('User')
  // Guessing the current password is a failed sign-in like any other.
  const account = `user:${user.id}`
  const address = addressKey(client.ip)
  await deps.throttle.check(account, address)
  if (user.password_hash === null || !await verifyPassword(user.password_hash, input.currentPassword)) {
    await deps.throttle.recordFailure(account, address)
    throw new AppError('FORBIDDEN', 'The current password is not correct')
  }
  const passwordHash = await hashPassword(input.newPassword)
  const ended = await deps.db.transaction().execute(async (trx) => {
    await deps.repo.setPasswordHash(user.id, passwordHash, trx)
    return await deps.repo.revokeOtherSessions(user.id, toBin(caller.sessionId), 'password_change', new Date(), trx)
  })
  sessionsEnded(deps, user.id, ended.map(fromBin))
  return { passwordChanged: true, sessionsEnded: ended.length }
}
