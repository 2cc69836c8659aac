import { createHash } from 'node:crypto'
import { AppError } from '../../lib/app-error.ts'

/*
 * Spam rules for sends (DESIGN §4 moderation). Group admins are exempt from none of them. The
 * rules are pure functions of the text except the duplicate rule, which needs state shared by
 * every instance: it asks a `ClaimRecentContent` function (Redis, spam-duplicates.ts) whether
 * the same sender sent the same text to the same group within the window.
 *
 * A refused message is refused before anything is stored, with SPAM_DETECTED (422) and
 * `details.rule` naming the rule: 'duplicate', 'links' or 'keyword'.
 */

export const SPAM_RULES = {
  /** The same text from the same sender in the same group within this window is a duplicate. */
  duplicateWindowMs: 5000,
  /** More links than this in one message is spam. */
  maxLinks: 5
} as const

export type SpamRule = 'duplicate' | 'links' | 'keyword'

/** Text as the rules compare it: compatibility forms folded (NFKC), lowercased, whitespace collapsed. */
export function normalizeForSpam (text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim()
}

// http(s) URLs and bare www. hosts; a link ends at whitespace or a closing bracket or quote.
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"'()[\]{}]+/giu

/** How many links the text holds. */
export function countLinks (text: string): number {
  return text.match(LINK)?.length ?? 0
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * A matcher for the keyword list: a keyword (or phrase) matches as a whole word, whatever its
 * case or compatibility form, so "Casino" matches "casino" but "class" does not match "ass".
 */
export function keywordMatcher (keywords: readonly string[]): (text: string) => boolean {
  const words = [...new Set(keywords.map(normalizeForSpam).filter((k) => k.length > 0))]
  if (words.length === 0) return () => false
  // Longest first, so a phrase wins over a word it starts with; one compiled alternation.
  words.sort((a, b) => b.length - a.length)
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}_])`, 'u')
  return (text) => pattern.test(normalizeForSpam(text))
}

/** The content hash of the duplicate rule: SHA-256 hex of the normalized text. */
export const contentHashOf = (text: string): string => createHash('sha256').update(normalizeForSpam(text)).digest('hex')

/**
 * Records that `senderId` sent text with `contentHash` to `groupId`, for `windowMs`, and says
 * whether it was sent before within the window. A retry (the same non-null clientMessageId
 * as the recorded send) is not a repeat: the send path answers it with the original message.
 */
export type ClaimRecentContent = (claim: {
  groupId: string
  senderId: number
  contentHash: string
  clientMessageId: string | null
  windowMs: number
}) => Promise<{ repeated: boolean }>

export interface SpamCheckInput {
  groupId: string
  senderId: number
  content: string
  clientMessageId?: string | null
}

/** Throws SPAM_DETECTED when the message breaks a rule; resolves when it may be stored. */
export type CheckSpam = (input: SpamCheckInput) => Promise<void>

export interface SpamCheckDeps {
  /** SPAM_KEYWORDS_FILE's words and phrases. */
  keywords: readonly string[]
  claimRecentContent: ClaimRecentContent
}

const spam = (rule: SpamRule, message: string, details: Record<string, unknown> = {}): AppError =>
  new AppError('SPAM_DETECTED', message, { rule, ...details })

/**
 * The spam check of the send path: one call before a message is stored. The text rules run
 * first, so a message refused for its links or words does not count as sent for the duplicate
 * rule.
 */
export function createSpamCheck (deps: SpamCheckDeps): CheckSpam {
  const hasKeyword = keywordMatcher(deps.keywords)
  return async ({ groupId, senderId, content, clientMessageId = null }) => {
    const links = countLinks(content)
    if (links > SPAM_RULES.maxLinks) {
      throw spam('links', `A message may hold at most ${SPAM_RULES.maxLinks} links`, { links, maxLinks: SPAM_RULES.maxLinks })
    }
    if (hasKeyword(content)) throw spam('keyword', 'The message contains a blocked word or phrase')
    const { repeated } = await deps.claimRecentContent({
      groupId, senderId, contentHash: contentHashOf(content), clientMessageId, windowMs: SPAM_RULES.duplicateWindowMs
    })
    if (repeated) {
      throw spam('duplicate', `You sent the same message to this group less than ${SPAM_RULES.duplicateWindowMs / 1000} s ago`, { windowMs: SPAM_RULES.duplicateWindowMs })
    }
  }
}
