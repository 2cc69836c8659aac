import t from 'tap'
import { MAX_TERM_LENGTH, MAX_TERMS_PER_TEXT, normalizeText, searchTerms } from '../../src/lib/search-tokens.ts'

t.test('case and accents fold: "Café", "CAFÉ" and "cafe" give the same term', async (t) => {
  t.same(searchTerms('Café'), ['cafe'])
  t.same(searchTerms('CAFÉ'), ['cafe'])
  t.same(searchTerms('cafe'), ['cafe'])
  t.same(searchTerms('Ångström naïve'), ['angstrom', 'naive'])
})

t.test('compatibility forms fold: full-width letters and digits become ASCII', async (t) => {
  t.same(searchTerms('ＨＥＬＬＯ ２０２４'), ['hello', '2024'])
})

t.test('lowercasing does not depend on a locale: "İstanbul" folds to "istanbul"', async (t) => {
  t.same(searchTerms('İSTANBUL İstanbul'), ['istanbul'])
})

t.test('words are runs of letters and digits; punctuation and spaces separate them', async (t) => {
  t.same(searchTerms('Hello, world! e-mail me@x.io #tag 42'), ['hello', 'world', 'e', 'mail', 'me', 'x', 'io', 'tag', '42'])
})

t.test('terms are deduplicated in order of first appearance', async (t) => {
  t.same(searchTerms('the cat and THE Cat and the dog'), ['the', 'cat', 'and', 'dog'])
})

t.test('a text without letters or digits has no terms', async (t) => {
  t.same(searchTerms(''), [])
  t.same(searchTerms('  ... !!! 🎉 —  '), [])
})

t.test('a CJK run becomes overlapping bigrams, across Han and Katakana', async (t) => {
  t.same(searchTerms('東京タワー'), ['東京', '京タ', 'タワ', 'ワー'])
})

t.test('a query of a CJK word yields terms that are all among the message\'s terms', async (t) => {
  const message = new Set(searchTerms('昨日は東京タワーに行きました'))
  for (const query of ['東京', 'タワー', '東京タワー']) {
    const terms = searchTerms(query)
    t.ok(terms.length > 0, query)
    t.ok(terms.every((term) => message.has(term)), query)
  }
  t.notOk(searchTerms('大阪').every((term) => message.has(term)))
})

t.test('a one-character CJK run is a term by itself', async (t) => {
  t.same(searchTerms('猫'), ['猫'])
  t.same(searchTerms('a 猫 b'), ['a', '猫', 'b'])
})

t.test('Hangul stays in syllables and is split into bigrams', async (t) => {
  t.same(searchTerms('한국어'), ['한국', '국어'])
})

t.test('voiced kana keep their voicing mark, and half-width kana fold to full-width', async (t) => {
  t.same(searchTerms('ガス'), ['ガス'])
  t.same(searchTerms('ｶﾞｽ'), ['ガス'])
  t.not(normalizeText('ガ'), normalizeText('カ'))
})

t.test('Latin and CJK mixed in one word are split at the script boundary', async (t) => {
  t.same(searchTerms('iPhone用ケース'), ['iphone', '用ケ', 'ケー', 'ース'])
})

t.test('a very long word is cut to the maximum term length', async (t) => {
  const long = 'a'.repeat(MAX_TERM_LENGTH * 3)
  const [term] = searchTerms(long)
  t.equal(term, 'a'.repeat(MAX_TERM_LENGTH))
  t.same(searchTerms(long), searchTerms('A'.repeat(MAX_TERM_LENGTH + 1)))
})

t.test('a text yields at most the maximum number of terms', async (t) => {
  const words = Array.from({ length: MAX_TERMS_PER_TEXT * 2 }, (_, i) => `w${i}`).join(' ')
  const terms = searchTerms(words)
  t.equal(terms.length, MAX_TERMS_PER_TEXT)
  t.equal(terms[0], 'w0')
  t.equal(searchTerms(words, { maxTerms: 3 }).length, 3)
})

t.test('ASCII text, folded by lowercasing alone, gives what the full fold gives', async (t) => {
  const fullFold = (text: string): string => text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').normalize('NFC')
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')
  for (const text of [printable, 'Hello WORLD 42', 'MiXeD_case-words.and,punctuation!', '\t\n tabs and newlines \r']) {
    t.equal(normalizeText(text), fullFold(text), JSON.stringify(text))
  }
  t.same(searchTerms('Ship IT: build 42 is GREEN, ship it'), ['ship', 'it', 'build', '42', 'is', 'green'])
})
