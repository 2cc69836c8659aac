import fp from 'fastify-plugin'
import { PresenceUpdateFrame, TypingStartFrame, TypingStopFrame } from '../../../schemas/ws.ts'

/** Typing and presence over the WebSocket (seed 01 §5.4.6–5.4.8), through the presence service. */
export default fp(async function presenceWsCommands (fastify) {
  const { commands } = fastify.gateway
  // Taken once at registration, as every area's ws.ts does: no lookup per command.
  const presence = fastify.presenceService

  commands.register({
    frame: TypingStartFrame,
    rateLimit: 'typing',
    async run (ctx, frame) {
      const { groupId } = await ctx.callerIn(frame.payload.groupId).then((caller) => caller.membership)
      return await presence.setTyping(ctx.user, groupId, true)
    }
  })

  commands.register({
    frame: TypingStopFrame,
    rateLimit: 'typing',
    async run (ctx, frame) {
      const { groupId } = await ctx.callerIn(frame.payload.groupId).then((caller) => caller.membership)
      return await presence.setTyping(ctx.user, groupId, false)
    }
  })

  commands.register({
    frame: PresenceUpdateFrame,
    async run (ctx, frame) {
      const { status, deviceType } = frame.payload
      const { groupId } = await ctx.callerIn(frame.payload.groupId).then((caller) => caller.membership)
      return await presence.updatePresence(ctx.user, groupId, status, deviceType)
    }
  })
}, { name: 'presence-ws', dependencies: ['gateway', 'presence-service'] })
