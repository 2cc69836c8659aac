import { fileTypeFromBuffer } from 'file-type'

/**
 * What an upload may be, decided from its first bytes (file-type), never from the name or
 * the Content-Type the client sent. Executables, scripts, HTML and SVG (which can carry script)
 * are not here, so a renamed .exe is refused whatever it is called.
 */
export const ALLOWED_TYPES: ReadonlySet<string> = new Set([
  'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/heic', 'image/bmp',
  'audio/mpeg', 'audio/ogg', 'audio/opus', 'audio/wav', 'audio/x-wav', 'audio/flac', 'audio/x-flac', 'audio/aac', 'audio/mp4', 'audio/x-m4a', 'audio/webm',
  'video/mp4', 'video/webm', 'video/quicktime', 'video/ogg', 'video/x-m4v', 'video/3gpp',
  'application/pdf', 'application/zip', 'application/gzip', 'application/x-7z-compressed',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text', 'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation',
  'text/plain'
])

/** Images sharp reads: these get width, height and a thumbnail. */
export const THUMBNAIL_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'])

/** Types a browser may show in place (Content-Disposition inline); everything else downloads. */
const INLINE_PREFIXES = ['image/', 'audio/', 'video/']

/** How many leading bytes the type is decided from. */
export const SNIFF_BYTES = 64 * 1024

export const isInline = (mime: string): boolean => INLINE_PREFIXES.some((prefix) => mime.startsWith(prefix))

/** Valid UTF-8 without NUL or other binary control characters (a character cut off by the sample's end is fine). */
function looksLikeText (head: Buffer): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0E-\x1A\x1C-\x1F]/.test(head.toString('latin1'))) return false
  const decoder = new TextDecoder('utf-8', { fatal: true })
  for (let cut = 0; cut <= Math.min(3, head.length); cut++) {
    try {
      decoder.decode(head.subarray(0, head.length - cut))
      return true
    } catch {}
  }
  return false
}

/**
 * The MIME type of a file from its first bytes: what file-type finds, or text/plain for UTF-8
 * text (which has no signature); null when neither.
 */
export async function sniffType (head: Buffer): Promise<string | null> {
  const found = await fileTypeFromBuffer(head)
  if (found !== undefined) return found.mime
  return looksLikeText(head) ? 'text/plain' : null
}
