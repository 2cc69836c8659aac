import type { CurrentUser } from '../../../schemas/auth.ts'
import { notFound } from '../../lib/app-error.ts'
import type { AuthUser } from '../../plugins/auth.ts'
import { toPublicUser } from '../users/service.ts'
import type { AuthDeps } from './deps.ts'

/** The caller's own profile (GET /auth/me). */
export async function currentUser (deps: AuthDeps, caller: AuthUser): Promise<CurrentUser> {
  const user = await deps.repo.findUserById(caller.id)
  if (user === null) throw notFound('User')
  return { user: toPublicUser(user) }
}
