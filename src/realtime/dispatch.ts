import type { RawData } from 'ws'
import type { AuthUser } from '../plugins/auth.ts'
import { AppError } from '../lib/app-error.ts'
import { WS_CLOSE_CODES } from '../../schemas/ws.ts'
import type { CommandContext, CommandTable } from './commands.ts'
import type { CommandTurn, Connection } from './connection.ts'
import { assertFrame, parseFrame, requestIdOf, type RawFrame } from './frames.ts'
import type { WsRateCategory } from './rate-limit.ts'
import { authCheck, authenticateByFrame, callerIn, type AdmissionDeps } from './admission.ts'
import { sendError, sendTo } from './replies.ts'
import { closeIfExpired, reauthenticate } from './session-expiry.ts'

/*
 * Frames in: parsed, rate limited, validated against the command's schema, queued on the
 * connection and answered chat:ack or chat:error, each by its requestId. Commands of one
 * connection start in arrival order; each runs alone except sends, which run side by side up
 * to MAX_PIPELINED_COMMANDS and still commit in arrival order (Connection.enqueue).
 */

export interface DispatchDeps extends AdmissionDeps {
  commands: CommandTable
}

/** One frame from the socket, whatever the connection's state. */
export function onMessage (deps: DispatchDeps, conn: Connection, data: RawData, isBinary: boolean): void {
  conn.alive = true
  if (conn.state === 'closed' || !conn.open) return
  if (!conn.acceptingFrames) {
    sendError(deps.log, conn, new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down; reconnect'), undefined)
    return
  }
  if (!takeToken(deps, conn, 'frames', undefined)) return
  if (isBinary) {
    sendError(deps.log, conn, new AppError('VALIDATION_ERROR', 'Frames are JSON text', undefined, [{ field: 'frame', message: 'frame must be a text frame' }]), undefined)
    return
  }
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
  let frame: RawFrame
  try {
    frame = parseFrame(text)
  } catch (err) {
    sendError(deps.log, conn, err, requestIdOf(text))
    return
  }
  if (conn.state === 'awaiting-auth') {
    authenticateByFrame(deps, conn, frame)
    return
  }
  // Frames that arrive while the connection is being admitted queue behind the admission.
  dispatch(deps, conn, frame)
}

/** Handles one frame of an authenticated connection. */
function dispatch (deps: DispatchDeps, conn: Connection, frame: RawFrame): void {
  const { requestId } = frame
  if (frame.type === 'auth') {
    reauthenticateByFrame(deps, conn, frame)
    return
  }
  const { commands } = deps
  const registered = commands.get(frame.type)
  if (registered === undefined) {
    sendError(deps.log, conn, new AppError('VALIDATION_ERROR', `Unknown message type: ${frame.type.slice(0, 64)}`, undefined,
      [{ field: 'type', message: `type must be one of ${commands.types().join(', ')}` }]), requestId)
    return
  }
  try {
    assertFrame(registered.check, frame)
  } catch (err) {
    sendError(deps.log, conn, err, requestId)
    return
  }
  registered.normalise?.(frame)
  const { command } = registered
  if (command.rateLimit !== undefined && !takeToken(deps, conn, command.rateLimit, requestId)) return
  enqueue(deps, conn, requestId, async (turn) => {
    // Read when the command runs: a connection authenticating by frame has its user by then.
    const user = conn.user
    if (user === null || conn.state !== 'ready') throw new AppError('UNAUTHORIZED', 'The connection is not authenticated')
    return await command.run(commandContext(deps, conn, user, requestId, turn), frame)
  }, command.failureCode, command.pipelined === true)
}

/** `auth` on an authenticated connection: a fresh token, checked in the connection's queue. */
function reauthenticateByFrame (deps: DispatchDeps, conn: Connection, frame: RawFrame): void {
  const { requestId } = frame
  try { assertFrame(authCheck, frame) } catch (err) { sendError(deps.log, conn, err, requestId); return }
  // Received before the expiry: the connection stays open until the new token is checked.
  conn.reauthenticating = true
  if (!enqueue(deps, conn, requestId, async () => await reauthenticate(deps.ports, conn, frame.token ?? ''))) {
    conn.reauthenticating = false
    closeIfExpired(conn)
  }
}

function commandContext (deps: DispatchDeps, conn: Connection, user: AuthUser, requestId: string | undefined, turn: CommandTurn): CommandContext {
  return {
    user,
    connectionId: conn.id,
    requestId,
    callerIn: async (groupId) => await callerIn(deps.ports, user, groupId),
    send: (frame) => { sendTo(conn, frame) },
    inTurn: turn.inTurn
  }
}

/** Queues a command of the connection; false (and a chat:error sent) when its queue is full. */
function enqueue (deps: DispatchDeps, conn: Connection, requestId: string | undefined, run: (turn: CommandTurn) => Promise<Record<string, unknown> | undefined>, failureCode?: AppError['code'], pipelined = false): boolean {
  const accepted = conn.enqueue(async (turn) => {
    if (conn.state === 'closed') return
    try {
      const result = await run(turn)
      if (requestId !== undefined) sendTo(conn, { type: 'chat:ack', payload: { success: true, ...result }, requestId })
    } catch (err) {
      sendError(deps.log, conn, err, requestId, failureCode)
    }
  }, pipelined)
  if (!accepted) sendError(deps.log, conn, new AppError('RATE_LIMIT_EXCEEDED', 'Too many commands in progress on this connection'), requestId)
  return accepted
}

/** Takes a token from a bucket; answers RATE_LIMIT_EXCEEDED and closes 4429 on abuse. */
function takeToken (deps: DispatchDeps, conn: Connection, category: WsRateCategory, requestId: string | undefined): boolean {
  const refused = conn.limits.take(category)
  if (refused === null) return true
  if (conn.limits.abusive()) {
    conn.close(WS_CLOSE_CODES.rateLimited, 'Rate limit exceeded repeatedly')
    return false
  }
  sendError(deps.log, conn, new AppError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded. Please slow down.', refused), requestId)
  return false
}
