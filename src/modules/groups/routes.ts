import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

// Placeholder while the area is built.
const routes: FastifyPluginAsyncTypebox = async () => {}
export default routes
