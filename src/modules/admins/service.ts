import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { forbidden } from '../../lib/app-error.ts'
import { adminRepository } from './repository.ts'

/**
 * System administrators: the users of ADMIN_USER_IDS plus those granted in the database with
 * `npm run admin -- grant <userId>`. They moderate reports and read /status. This is not a
 * group role: a group's owner and admins administer their group only.
 */
export interface AdminService {
  /** True for a configured or granted system administrator. Grants and revocations count at once. */
  isAdmin: (userId: number) => Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    adminService: AdminService
  }
}

/**
 * A preHandler for administrator-only routes, after `authenticate` (which answers 401): a
 * signed-in user who is not a system administrator gets 403.
 */
export function requireSystemAdmin (admins: AdminService) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!await admins.isAdmin(request.user.id)) throw forbidden('Only system administrators can do this')
  }
}

export default fp(async function adminServicePlugin (fastify) {
  const configured = new Set(fastify.config.adminUserIds)
  const granted = adminRepository(fastify.db)
  // Not cached: administrator requests are rare, and a revocation by the script (which cannot
  // reach the running instances) must take effect on the next request.
  const service: AdminService = {
    isAdmin: async (userId) => configured.has(userId) || await granted.isGranted(userId)
  }
  fastify.decorate('adminService', service)
}, { name: 'admin-service', dependencies: ['db'] })
