import { CHAT_LIMITS, type FormattingInfo, type LinkPreview, type MentionInfo, type MessageMetadata } from '../../../schemas/chat.ts'
import { AppError, type FieldError } from '../../lib/app-error.ts'
import { brokenJsonBound } from '../../lib/json-bounds.ts'

/*
 * The rules of message metadata beyond its JSON shape (which the route schema or the gateway's
 * frame schema checks first): ranges lie inside the content, links are http(s), counts and the
 * client's `custom` object are bounded (size, depth and number of keys). Offsets are UTF-16 code unit indices, as JavaScript
 * strings index. Only known fields are kept, and the pin fields are the server's, so a client
 * cannot store them.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for an absolute http: or https: URL within the length bound. */
export function isWebUrl (value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > CHAT_LIMITS.urlMaxLength) return false
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

const isOffset = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0

function rangeInside (start: unknown, end: unknown, length: number): boolean {
  return isOffset(start) && isOffset(end) && start < end && end <= length
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

function formattingShapeOk (formatting: FormattingInfo): boolean {
  return (['bold', 'italic', 'code', 'links'] as const).every((kind) => {
    const ranges: unknown = formatting[kind]
    return ranges === undefined || (Array.isArray(ranges) && ranges.every((r) => Array.isArray(r)))
  })
}

class Problems {
  readonly list: FieldError[] = []
  add (field: string, message: string): void {
    // A hostile payload could hold thousands of bad entries; the first few say enough.
    if (this.list.length < 20) this.list.push({ field, message })
  }
}

function checkMentions (mentions: MentionInfo[], length: number, problems: Problems): MentionInfo[] {
  if (mentions.length > CHAT_LIMITS.mentionsMax) problems.add('metadata.mentions', `metadata.mentions must have at most ${CHAT_LIMITS.mentionsMax} items`)
  return mentions.slice(0, CHAT_LIMITS.mentionsMax).map((m, i) => {
    const field = `metadata.mentions.${i}`
    if (!rangeInside(m.startIndex, m.endIndex, length)) problems.add(field, `${field} must lie inside the content (startIndex < endIndex <= content length)`)
    if (m.type === 'user' && !(Number.isInteger(m.userId) && m.userId >= 1)) problems.add(`${field}.userId`, `${field}.userId must be a user id`)
    if (typeof m.username !== 'string' || m.username.length > CHAT_LIMITS.usernameMaxLength) problems.add(`${field}.username`, `${field}.username must be at most ${CHAT_LIMITS.usernameMaxLength} characters`)
    return { userId: m.userId, username: m.username, startIndex: m.startIndex, endIndex: m.endIndex, type: m.type }
  })
}

function checkLinks (links: LinkPreview[], length: number, problems: Problems): LinkPreview[] {
  if (links.length > CHAT_LIMITS.linksMax) problems.add('metadata.links', `metadata.links must have at most ${CHAT_LIMITS.linksMax} items`)
  return links.slice(0, CHAT_LIMITS.linksMax).map((link, i) => {
    const field = `metadata.links.${i}`
    if (!isWebUrl(link.url)) problems.add(`${field}.url`, `${field}.url must be an http or https URL`)
    if (link.image !== undefined && !isWebUrl(link.image)) problems.add(`${field}.image`, `${field}.image must be an http or https URL`)
    if (!rangeInside(link.startIndex, link.endIndex, length)) problems.add(field, `${field} must lie inside the content (startIndex < endIndex <= content length)`)
    if (link.title !== undefined && (typeof link.title !== 'string' || link.title.length > CHAT_LIMITS.linkTitleMaxLength)) problems.add(`${field}.title`, `${field}.title is too long`)
    if (link.description !== undefined && (typeof link.description !== 'string' || link.description.length > CHAT_LIMITS.linkDescriptionMaxLength)) problems.add(`${field}.description`, `${field}.description is too long`)
    const clean: LinkPreview = { url: link.url, startIndex: link.startIndex, endIndex: link.endIndex }
    if (link.title !== undefined) clean.title = link.title
    if (link.description !== undefined) clean.description = link.description
    if (link.image !== undefined) clean.image = link.image
    return clean
  })
}

function checkFormatting (formatting: FormattingInfo, length: number, problems: Problems): FormattingInfo {
  const clean: FormattingInfo = {}
  let total = 0
  for (const kind of ['bold', 'italic', 'code'] as const) {
    const ranges = formatting[kind]
    if (ranges === undefined) continue
    total += ranges.length
    clean[kind] = ranges.slice(0, CHAT_LIMITS.formattingRangesMax).map((range, i) => {
      const field = `metadata.formatting.${kind}.${i}`
      if (!Array.isArray(range) || !rangeInside(range[0], range[1], length)) problems.add(field, `${field} must lie inside the content`)
      return [range[0], range[1]]
    })
  }
  if (formatting.links !== undefined) {
    total += formatting.links.length
    clean.links = formatting.links.slice(0, CHAT_LIMITS.linksMax).map((range, i) => {
      const field = `metadata.formatting.links.${i}`
      if (!Array.isArray(range) || !rangeInside(range[0], range[1], length)) problems.add(field, `${field} must lie inside the content`)
      if (!isWebUrl(range[2])) problems.add(field, `${field} must link to an http or https URL`)
      return [range[0], range[1], range[2]]
    })
  }
  if (total > CHAT_LIMITS.formattingRangesMax) problems.add('metadata.formatting', `metadata.formatting must have at most ${CHAT_LIMITS.formattingRangesMax} ranges`)
  return clean
}

/**
 * The metadata to store for a message with this content: known fields only, every rule
 * checked. Throws VALIDATION_ERROR listing the problems.
 */
export function checkMetadata (content: string, metadata: MessageMetadata | undefined): MessageMetadata {
  if (metadata === undefined || metadata === null) return {}
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, [{ field: 'metadata', message: 'metadata must be an object' }])
  const problems = new Problems()
  // The route schema checks these shapes; a caller that skipped it (a WebSocket frame) is checked here.
  const shapes: Array<[keyof MessageMetadata, boolean]> = [
    ['mentions', metadata.mentions === undefined || (Array.isArray(metadata.mentions) && metadata.mentions.every(isObject))],
    ['links', metadata.links === undefined || (Array.isArray(metadata.links) && metadata.links.every(isObject))],
    ['formatting', metadata.formatting === undefined || (isObject(metadata.formatting) && formattingShapeOk(metadata.formatting))],
    ['replyPreview', metadata.replyPreview === undefined || isObject(metadata.replyPreview)]
  ]
  const malformed = shapes.filter(([, fine]) => !fine).map(([name]) => ({ field: `metadata.${name}`, message: `metadata.${name} has the wrong shape` }))
  if (malformed.length > 0) throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, malformed)
  const length = content.length
  const clean: MessageMetadata = {}
  if (metadata.mentions !== undefined) clean.mentions = checkMentions(metadata.mentions, length, problems)
  if (metadata.links !== undefined) clean.links = checkLinks(metadata.links, length, problems)
  if (metadata.formatting !== undefined) clean.formatting = checkFormatting(metadata.formatting, length, problems)
  if (metadata.replyPreview !== undefined) {
    const preview = metadata.replyPreview
    if (!UUID.test(preview.messageId)) problems.add('metadata.replyPreview.messageId', 'metadata.replyPreview.messageId must be a UUID')
    if (typeof preview.content !== 'string' || preview.content.length > CHAT_LIMITS.replyPreviewMaxLength) {
      problems.add('metadata.replyPreview.content', `metadata.replyPreview.content must be at most ${CHAT_LIMITS.replyPreviewMaxLength} characters`)
    }
    clean.replyPreview = { messageId: preview.messageId, senderUsername: preview.senderUsername, content: preview.content }
  }
  if (metadata.custom !== undefined) {
    const custom = metadata.custom
    // Bounded before it is serialized: JSON.stringify recurses, and a few thousand levels
    // overflow the stack.
    const broken = brokenJsonBound(custom, { maxDepth: CHAT_LIMITS.customMaxDepth, maxEntries: CHAT_LIMITS.customMaxEntries })
    if (custom === null || typeof custom !== 'object' || Array.isArray(custom)) {
      problems.add('metadata.custom', 'metadata.custom must be an object')
    } else if (broken === 'depth') {
      problems.add('metadata.custom', `metadata.custom must not nest objects and arrays more than ${CHAT_LIMITS.customMaxDepth} levels deep`)
    } else if (broken === 'entries') {
      problems.add('metadata.custom', `metadata.custom must hold at most ${CHAT_LIMITS.customMaxEntries} keys and array items in all`)
    } else if (Buffer.byteLength(JSON.stringify(custom), 'utf8') > CHAT_LIMITS.customMaxBytes) {
      problems.add('metadata.custom', `metadata.custom must be at most ${CHAT_LIMITS.customMaxBytes} bytes of JSON`)
    } else {
      clean.custom = custom
    }
  }
  if (problems.list.length > 0) throw new AppError('VALIDATION_ERROR', 'Validation failed', undefined, problems.list)
  return clean
}

/**
 * Stored metadata kept across an edit that brings no metadata of its own: the ranges the new
 * content no longer holds are dropped, everything else stays.
 */
export function metadataForEditedContent (metadata: MessageMetadata, content: string): MessageMetadata {
  const length = content.length
  const kept: MessageMetadata = { ...metadata }
  if (metadata.mentions !== undefined) kept.mentions = metadata.mentions.filter((m) => rangeInside(m.startIndex, m.endIndex, length))
  if (metadata.links !== undefined) kept.links = metadata.links.filter((l) => rangeInside(l.startIndex, l.endIndex, length))
  if (metadata.formatting !== undefined) {
    const f: FormattingInfo = {}
    for (const kind of ['bold', 'italic', 'code'] as const) {
      const ranges = metadata.formatting[kind]
      if (ranges !== undefined) f[kind] = ranges.filter((r) => rangeInside(r[0], r[1], length))
    }
    if (metadata.formatting.links !== undefined) f.links = metadata.formatting.links.filter((r) => rangeInside(r[0], r[1], length))
    kept.formatting = f
  }
  return kept
}

/** True when the metadata holds nothing worth storing. */
export const isEmptyMetadata = (metadata: MessageMetadata): boolean => Object.keys(metadata).length === 0
