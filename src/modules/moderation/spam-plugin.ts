import fp from 'fastify-plugin'
import { createSpamCheck, type CheckSpam } from './spam.ts'
import { recentContentClaims } from './spam-duplicates.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The spam rules of sends (moderation): throws SPAM_DETECTED, or resolves when a message may be stored. */
    spamCheck: CheckSpam
  }
}

/**
 * Its own plugin, not part of the moderation service, because the chat service calls it on every
 * send while moderation depends on chat (its review actions delete messages).
 */
export default fp(async function spamCheckPlugin (fastify) {
  fastify.decorate('spamCheck', createSpamCheck({
    keywords: fastify.config.spamKeywords,
    claimRecentContent: recentContentClaims(fastify.store.claims, fastify.log.child({ module: 'spam' }))
  }))
}, { name: 'spam-check', dependencies: ['store'] })
