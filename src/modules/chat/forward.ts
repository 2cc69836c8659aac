import { createHash } from 'node:crypto'
import {
  CHAT_LIMITS, type ForwardMessageRequest, type ForwardMessageResponse, type ForwardResult, type ForwardedFrom,
  type MessageMetadata, type SendMessageRequest
} from '../../../schemas/chat.ts'
import { AppError, invalid, notFound } from '../../lib/app-error.ts'
import { fromBin } from '../../lib/ids.ts'
import type { ChatDeps } from './deps.ts'
import { findShownOrThrow, open } from './present.ts'
import { sendMessage } from './send.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * Forwarding (issue 11 point 6, seed 05 §5): the caller sends a copy of a message they are
 * shown into each target group, through the same sendMessage every send takes — membership,
 * the broadcast and block rules, encryption, the search index, seq, events — with
 * metadata.forwardedFrom naming the source. Targets are independent: each answers with its
 * copy or its error, and the source's forwardedCount counts the copies made.
 */

/** The caller in a target group; null when they are not a member of it (or it does not exist). */
export type CallerIn = (groupId: string) => Promise<Caller | null>

/**
 * The clientMessageId of one target's copy: derived from the request's own, the source and
 * the target, so a retried forward finds the copies it made (never a plain send's id).
 */
export function forwardClientMessageId (clientMessageId: string, sourceMessageId: string, targetGroupId: string): string {
  const digest = createHash('sha256').update(`${sourceMessageId}\n${targetGroupId}\n${clientMessageId}`).digest('base64url')
  return `fwd-${digest}`
}

/**
 * What of the source's metadata a copy keeps: formatting and links, which describe the same
 * text. Mentions, the reply preview and the client's custom data belong to the source's group
 * and conversation, so they stay behind (a mention copied along would notify strangers).
 */
function carriedMetadata (metadata: MessageMetadata): MessageMetadata {
  const carried: MessageMetadata = {}
  if (metadata.formatting !== undefined) carried.formatting = metadata.formatting
  if (metadata.links !== undefined) carried.links = metadata.links
  return carried
}

function targetsOf (input: ForwardMessageRequest): string[] {
  const ids = Array.isArray(input.targetGroupIds) ? input.targetGroupIds : []
  if (ids.length < 1 || ids.length > CHAT_LIMITS.forwardMaxTargets) {
    throw invalid('targetGroupIds', `targetGroupIds must name 1-${CHAT_LIMITS.forwardMaxTargets} groups`)
  }
  return [...new Set(ids.map((id) => String(id).toLowerCase()))]
}

/** Forwards a message the caller is shown to each target group; one result per target, in request order. */
export async function forwardMessage (deps: ChatDeps, caller: Caller, messageId: string, input: ForwardMessageRequest, callerIn: CallerIn): Promise<ForwardMessageResponse> {
  const targets = targetsOf(input)
  const row = await findShownOrThrow(deps, caller, messageId)
  if (row.is_deleted) throw notFound('Message')
  if (row.content_type === 'system') throw invalid('messageId', 'System messages cannot be forwarded')
  const source = await open(deps, row)
  const sourceId = fromBin(row.id)
  const forwardedFrom: ForwardedFrom = { messageId: sourceId, groupId: fromBin(row.group_id), senderUserId: row.sender_user_id }
  const copy: SendMessageRequest = {
    content: source.content,
    // A copy answers nothing in its new group.
    contentType: row.content_type === 'reply' ? 'text' : row.content_type,
    metadata: carriedMetadata(source.metadata)
  }
  const results: ForwardResult[] = []
  let made = 0
  for (const [index, groupId] of targets.entries()) {
    try {
      // The route's limit counted the first target; every further one is a send of its own.
      if (index > 0) await deps.takeRateLimit('send', caller.user.id)
      const target = await callerIn(groupId)
      if (target === null) throw notFound('Group')
      const request = input.clientMessageId === undefined
        ? copy
        : { ...copy, clientMessageId: forwardClientMessageId(input.clientMessageId, sourceId, groupId) }
      const { message, created } = await sendMessage(deps, target, request, undefined, { forwardedFrom })
      if (created) made += 1
      results.push({ groupId, success: true, message })
    } catch (err) {
      if (!(err instanceof AppError)) deps.log.error({ err }, 'forward to a target failed')
      const error = err instanceof AppError ? { code: err.code, message: err.message } : { code: 'SEND_FAILED', message: 'Internal server error' }
      results.push({ groupId, success: false, error })
    }
  }
  const forwardedCount = await deps.repo.addForwards(row.group_id, row.id, made)
  return { originalMessageId: sourceId, forwardedCount, results }
}
