/*
 * The README is the newcomer's contract: its commands, its configuration table and its pointers
 * must stay true as the code changes. A variable added to src/config.ts without a README row
 * fails here.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Environment } from '../../src/config.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')

/** The rows of the table under `## Configuration`, by variable name. */
function configurationRows (): Map<string, string[]> {
  const section = readme.split(/^## /m).find((part) => part.startsWith('Configuration')) ?? ''
  const rows = new Map<string, string[]>()
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim())
    const name = /^`([A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1]
    if (name !== undefined) rows.set(name, cells)
  }
  return rows
}

t.test('the README gives the start and test commands of a fresh machine', async (t) => {
  t.match(readme, /^npm ci && npm start$/m)
  t.match(readme, /^npm ci && npm test$/m)
})

t.test('the configuration table lists every variable of src/config.ts with its default', async (t) => {
  const rows = configurationRows()
  const properties = Environment.properties as Record<string, { default?: unknown }>
  for (const [name, schema] of Object.entries(properties)) {
    const row = rows.get(name)
    if (!t.ok(row, `${name} has a row`) || row === undefined) continue
    t.ok((row[2] ?? '').length > 0, `${name} has a meaning`)
    if (schema.default !== undefined && schema.default !== '') {
      t.ok(row[1]?.includes(String(schema.default)), `${name}'s default ${String(schema.default)} is given`)
    }
  }
  const unknown = [...rows.keys()].filter((name) => !(name in properties))
  t.same(unknown, [], 'no row for a variable the service does not read')
})

t.test('the README says where the API documents are', async (t) => {
  for (const path of ['/docs', '/docs/json', '/asyncapi.json']) t.ok(readme.includes(`\`${path}\``), `${path} is named`)
})

t.test('the README has a Benchmarks section', async (t) => {
  t.match(readme, /^## Benchmarks$/m)
})

t.test('the README lists its differences from seed 01 instead of claiming the contract unchanged', async (t) => {
  t.notMatch(readme, /\bunchanged\b/i, 'no claim that seed 01 is followed unchanged')
  const section = readme.split(/^## /m).find((part) => part.startsWith('Differences from seed 01\n')) ?? ''
  t.ok(section.length > 0, 'a Differences from seed 01 section')
  const items = section.split('\n- ').slice(1)
  t.ok(items.length >= 5, `${items.length} differences listed`)
  for (const [topic, pattern] of [
    ['presence per user', /Presence is per user/],
    ['system messages admin-only', /`system` messages/],
    ['4003 versus chat:group_left', /4003[\s\S]*chat:group_left|chat:group_left[\s\S]*4003/],
    ['content not broadcast', /WS_BROADCAST_CONTENT/],
    ['seq', /`seq`/]
  ] as const) {
    t.ok(items.some((item) => pattern.test(item)), `names ${topic}`)
  }
})
