import fp from 'fastify-plugin'
import {
  AddReactionFrame, DeleteMessageFrame, EditMessageFrame, MarkReadFrame, RemoveReactionFrame, SendMessageFrame,
  type ReactionAck, type SendMessageAck
} from '../../../schemas/ws.ts'

/**
 * The chat area's WebSocket commands (seed 01 §5.4.3–5.4.5, 5.4.9–5.4.11): each one calls the
 * chat service exactly as the REST route does, with the membership looked up per command, so a
 * removed or blocked user's next command fails like their next request would. What they call is
 * taken once here, at registration: the chat service, the member count and the gateway's audience.
 */
export default fp(async function chatWsCommands (fastify) {
  const { commands, audienceOf } = fastify.gateway
  const chat = fastify.chatService
  const { memberCount } = fastify.membershipService

  commands.register({
    frame: SendMessageFrame,
    rateLimit: 'messages',
    failureCode: 'SEND_FAILED',
    // Several sends of a connection in flight at once, committed in the order they came.
    pipelined: true,
    async run (ctx, frame) {
      const { groupId, ...input } = frame.payload
      const caller = await ctx.callerIn(groupId)
      // This connection has the ack; the chat:message goes to everyone else, the sender's other devices included.
      const { message } = await chat.sendMessage(caller, input, { originConnectionId: ctx.connectionId }, { inTurn: ctx.inTurn })
      // Delivered = the other members subscribed to the group anywhere (they get it live); the
      // rest get it on their next sync or join. Both from counters: no member list is read.
      const [members, live] = await Promise.all([
        memberCount(caller.membership.groupId),
        audienceOf(caller.membership.groupId, ctx.user.id)
      ])
      const recipients = Math.max(0, members - 1)
      const deliveredToCount = Math.min(live, recipients)
      const ack: SendMessageAck = {
        success: true,
        messageId: message.id,
        clientMessageId: message.clientMessageId ?? null,
        seq: message.seq ?? 0,
        createdAt: new Date(message.createdAt).toISOString(),
        deliveredToCount,
        queuedForCount: recipients - deliveredToCount
      }
      return ack
    }
  })

  commands.register({
    frame: EditMessageFrame,
    rateLimit: 'messages',
    failureCode: 'EDIT_FAILED',
    async run (ctx, frame) {
      const { groupId, messageId, content } = frame.payload
      const message = await chat.editMessage(await ctx.callerIn(groupId), messageId, { content })
      return { messageId: message.id, editedAt: message.editedAt === null || message.editedAt === undefined ? null : new Date(message.editedAt).toISOString() }
    }
  })

  commands.register({
    frame: DeleteMessageFrame,
    rateLimit: 'messages',
    failureCode: 'DELETE_FAILED',
    async run (ctx, frame) {
      const { groupId, messageId } = frame.payload
      return { ...await chat.deleteMessage(await ctx.callerIn(groupId), messageId) }
    }
  })

  commands.register({
    frame: MarkReadFrame,
    async run (ctx, frame) {
      const { groupId, messageId } = frame.payload
      return { ...await chat.markRead(await ctx.callerIn(groupId), messageId) }
    }
  })

  commands.register({
    frame: AddReactionFrame,
    rateLimit: 'reactions',
    failureCode: 'REACTION_FAILED',
    async run (ctx, frame) {
      const { groupId, messageId, emoji } = frame.payload
      const reactions = await chat.addReaction(await ctx.callerIn(groupId), messageId, emoji)
      const ack: ReactionAck = { success: true, messageId, reactions }
      return ack
    }
  })

  commands.register({
    frame: RemoveReactionFrame,
    rateLimit: 'reactions',
    failureCode: 'REACTION_FAILED',
    async run (ctx, frame) {
      const { groupId, messageId, emoji } = frame.payload
      const reactions = await chat.removeReaction(await ctx.callerIn(groupId), messageId, emoji)
      const ack: ReactionAck = { success: true, messageId, reactions }
      return ack
    }
  })
}, { name: 'chat-ws', dependencies: ['gateway', 'chat-service', 'membership'] })
