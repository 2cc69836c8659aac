/**
 * Text → search terms for the blind index (DESIGN §6). Pure functions: the keyring turns each
 * term into a keyed HMAC token, so a message and a query that normalize to the same terms
 * produce the same tokens. Changing anything here changes the tokens: existing messages would
 * have to be reindexed, so treat the rules as frozen.
 */

/** At most this many distinct terms are indexed per text; the rest of a very long text is not searchable. */
export const MAX_TERMS_PER_TEXT = 512
/** Longer words are cut to this many characters, the same way in texts and queries, so they still match. */
export const MAX_TERM_LENGTH = 64

export interface TermLimits {
  maxTerms?: number
  maxTermLength?: number
}

/** Runs of letters and digits; everything else separates words. */
const WORD = /[\p{L}\p{N}]+/gu
/**
 * Scripts written without spaces between words. Script_Extensions (not Script) so that shared
 * characters such as the prolonged sound mark ー or the iteration mark 々 belong to the run.
 */
const CJK_RUN = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]+/gu
/** Not global, so testing a word does not clone a regexp as `matchAll` does. */
const HAS_CJK = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]/u
/** ASCII has no compatibility forms, accents or final sigma: lowercasing is its whole fold. */
const NON_ASCII = /[\u0080-\uFFFF]/
/**
 * Combining marks to drop after decomposition (accents: "é" → "e"), except the kana voicing
 * marks, which change the letter (カ/ガ) rather than accent it.
 */
const ACCENTS = /(?![\u3099\u309A])\p{M}/gu

/**
 * Folds case, compatibility forms and accents: "CAFÉ", "Café" and "cafe" all become "cafe",
 * full-width "ＡＢＣ" becomes "abc", half-width "ｶﾞ" becomes "ガ". Lowercasing is locale-independent
 * and comes first so that "İ" (→ "i" + a combining dot) folds to "i". The final NFC recomposes
 * what the decomposition split apart but is no accent: Hangul syllables and voiced kana.
 */
export function normalizeText (text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase()
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(ACCENTS, '')
    .normalize('NFC')
    .replace(/ς/g, 'σ')
}

/**
 * The distinct search terms of a text, in order of first appearance: its normalized words,
 * except that runs of Han, Hiragana, Katakana and Hangul (written without spaces) become
 * overlapping character bigrams ("東京タワー" → 東京, 京タ, タワ, ワー), a one-character run
 * itself. Bounded by {@link MAX_TERMS_PER_TEXT} terms of at most {@link MAX_TERM_LENGTH} characters.
 */
export function searchTerms (text: string, limits: TermLimits = {}): string[] {
  const maxTerms = limits.maxTerms ?? MAX_TERMS_PER_TEXT
  const maxLength = limits.maxTermLength ?? MAX_TERM_LENGTH
  const terms = new Set<string>()
  const add = (term: string): boolean => {
    terms.add(term)
    return terms.size < maxTerms
  }

  for (const [word] of normalizeText(text).matchAll(WORD)) {
    if (!HAS_CJK.test(word)) {
      if (!add(truncate(word, maxLength))) return [...terms]
      continue
    }
    let rest = 0
    for (const run of word.matchAll(CJK_RUN)) {
      if (run.index > rest && !add(truncate(word.slice(rest, run.index), maxLength))) return [...terms]
      for (const bigram of bigrams(run[0])) {
        if (!add(bigram)) return [...terms]
      }
      rest = run.index + run[0].length
    }
    if (rest < word.length && !add(truncate(word.slice(rest), maxLength))) return [...terms]
  }
  return [...terms]
}

/** Overlapping pairs of characters (code points, not UTF-16 units); a single character alone. */
function bigrams (run: string): string[] {
  const chars = [...run]
  if (chars.length === 1) return chars
  const pairs: string[] = []
  for (let i = 0; i < chars.length - 1; i++) pairs.push(`${chars[i] ?? ''}${chars[i + 1] ?? ''}`)
  return pairs
}

function truncate (word: string, maxLength: number): string {
  if (word.length <= maxLength) return word
  return [...word].slice(0, maxLength).join('')
}
