import { JoinGroupFrame, LeaveGroupFrame, PingFrame } from '../../schemas/ws.ts'
import type { CommandTable } from './commands.ts'
import type { Connection } from './connection.ts'
import { evict, subscribe, type SubscriptionDeps } from './subscriptions.ts'

export interface GatewayCommandDeps extends SubscriptionDeps {
  connections: Map<string, Connection>
}

/** The gateway's own commands: joining and leaving a group's events, and ping. */
export function registerGatewayCommands (commands: CommandTable, deps: GatewayCommandDeps): void {
  commands.register({
    frame: JoinGroupFrame,
    rateLimit: 'joins',
    async run (ctx, frame) {
      const conn = deps.connections.get(ctx.connectionId)
      if (conn === undefined) return undefined
      const caller = await ctx.callerIn(frame.payload.groupId)
      return await subscribe(deps, conn, caller, frame.payload.sinceSeq, ctx.requestId)
    }
  })

  commands.register({
    frame: LeaveGroupFrame,
    async run (ctx, frame) {
      const conn = deps.connections.get(ctx.connectionId)
      // Events published before the leave still reach the connection, as they would have
      // had they not been queued (fanout-queue.ts).
      await deps.fanout.queue.settled()
      if (conn !== undefined) evict(deps, conn, frame.payload.groupId, 'left', null, ctx.requestId)
      return { groupId: frame.payload.groupId }
    }
  })

  commands.register({
    frame: PingFrame,
    async run (ctx) {
      const timestamp = Date.now()
      ctx.send(ctx.requestId === undefined ? { type: 'pong', payload: { timestamp } } : { type: 'pong', payload: { timestamp }, requestId: ctx.requestId })
      return { timestamp }
    }
  })
}
