import { CHAT_LIMITS } from '../../../schemas/chat.ts'
import { invalid } from '../../lib/app-error.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import type { Caller } from '../membership/guard.ts'

/*
 * The few checks the chat functions make of their input themselves (code points, ids), and the
 * spelling of ids the bus and the keyring expect.
 */

/** True when the text has min..max code points, as the JSON schemas count length. */
export function lengthWithin (text: string, min: number, max: number): boolean {
  // UTF-16 units ≥ code points ≥ units / 2: most texts are decided without counting.
  if (text.length < min) return false
  if (text.length <= max && text.length >= min * 2) return true
  const count = [...text].length
  return count >= min && count <= max
}

export function checkContent (content: unknown, field = 'content'): string {
  if (typeof content !== 'string' || !lengthWithin(content, 1, CHAT_LIMITS.contentMaxLength)) {
    throw invalid(field, `${field} must be 1-${CHAT_LIMITS.contentMaxLength} characters`)
  }
  return content
}

export function messageBinOf (messageId: string, field = 'messageId'): Buffer {
  try {
    return toBin(messageId)
  } catch {
    throw invalid(field, `${field} must be a UUID`)
  }
}

/** The group id as the bus and the keyring know it (lowercase), whatever the URL's spelling. */
export const groupIdOf = (caller: Caller): string => fromBin(caller.membership.groupIdBin)
