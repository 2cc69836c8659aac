import type { Static, TSchema } from '@sinclair/typebox'
import type { TypeCheck } from '@sinclair/typebox/compiler'
import type { AuthUser } from '../plugins/auth.ts'
import type { Caller } from '../modules/membership/guard.ts'
import type { ErrorCode } from '../../schemas/common.ts'
import type { ServerFrame } from '../../schemas/ws.ts'
import type { WsRateCategory } from './rate-limit.ts'
import type { UuidNormaliser } from '../lib/uuid-normalisation.ts'
import { compileFrame, frameUuidNormaliser } from './frames.ts'

/** Who runs a command in a group: the same value REST routes build from the membership guard. */
export type { Caller }

/** What a command handler may use: the caller, and the connection it came from. */
export interface CommandContext {
  user: AuthUser
  connectionId: string
  requestId: string | undefined
  /** The caller's membership of a group; throws FORBIDDEN when they are not a member. */
  callerIn: (groupId: string) => Promise<Caller>
  /** Sends a frame to this connection only (after the handler's own frames, before its ack). */
  send: (frame: ServerFrame) => void
  /**
   * Runs `step` once the connection's pipelined commands that arrived earlier have run theirs
   * (Connection.enqueue): a send enqueues its commit here, so sends of one connection take
   * seqs in the order they were sent. A command that runs alone runs `step` at once.
   */
  inTurn: <T>(step: () => T) => Promise<T>
}

/**
 * One client → server frame type. The gateway validates the frame against `frame`, applies
 * the rate limit, runs `run`, and answers `chat:ack` (with what `run` returns) when the frame
 * carries a requestId, or `chat:error` when it throws.
 */
export interface WsCommand<S extends TSchema = TSchema> {
  /** The frame's schema from schemas/ws.ts: `{type, payload, requestId?}`. */
  frame: S
  /** The seed 01 §9 bucket this command draws from, besides the per-frame one. */
  rateLimit?: WsRateCategory
  /** The seed 01 §8.1 code a server-side failure answers with (SEND_FAILED…). */
  failureCode?: ErrorCode
  /**
   * May run beside the connection's other pipelined commands (sends), each still answered by
   * its requestId; commands that are not run alone, in arrival order (Connection.enqueue).
   */
  pipelined?: boolean
  // Method syntax: a command for a specific frame is stored among commands for any frame.
  run (ctx: CommandContext, frame: Static<S>): Promise<Record<string, unknown> | undefined>
}

export interface RegisteredCommand {
  command: WsCommand
  check: TypeCheck<TSchema>
  /** Lower-cases the frame's UUID fields once it passed `check`; null when it has none. */
  normalise: UuidNormaliser | null
}

/** The dispatch table: frame type → command. Areas fill it from their ws.ts. */
export class CommandTable {
  private readonly commands = new Map<string, RegisteredCommand>()

  /** Adds the command for the frame type its schema names. */
  register<S extends TSchema> (command: WsCommand<S>): void {
    const type = (command.frame.properties as { type?: { const?: unknown } } | undefined)?.type?.const
    if (typeof type !== 'string') throw new Error('A WebSocket command frame needs a literal `type`')
    if (this.commands.has(type)) throw new Error(`WebSocket command ${type} is registered twice`)
    this.commands.set(type, { command: command as WsCommand, check: compileFrame(command.frame), normalise: frameUuidNormaliser(command.frame) })
  }

  get (type: string): RegisteredCommand | undefined {
    return this.commands.get(type)
  }

  types (): string[] {
    return [...this.commands.keys()]
  }
}
