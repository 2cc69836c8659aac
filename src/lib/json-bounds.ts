/** How deeply objects and arrays may nest in a free-form JSON value, and how many keys and items they may hold in all. */
export interface JsonBounds {
  /** The value itself is level 1; scalars add no level. */
  maxDepth: number
  maxEntries: number
}

/**
 * The first bound a JSON value breaks: `depth` when objects and arrays nest deeper than
 * `maxDepth`, `entries` when they hold more than `maxEntries` keys and items in all; null
 * within bounds. Iterative (a recursive walk, like JSON.stringify, overflows the stack on a
 * few thousand levels), and it stops at the first breach, so a hostile value costs at most
 * `maxEntries` steps.
 */
export function brokenJsonBound (value: unknown, bounds: JsonBounds): 'depth' | 'entries' | null {
  if (typeof value !== 'object' || value === null) return null
  const pending: Array<{ node: object, depth: number }> = [{ node: value, depth: 1 }]
  let entries = 0
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > bounds.maxDepth) return 'depth'
    for (const child of Object.values(next.node) as unknown[]) {
      entries += 1
      if (entries > bounds.maxEntries) return 'entries'
      if (typeof child === 'object' && child !== null) pending.push({ node: child, depth: next.depth + 1 })
    }
  }
  return null
}

/** Keys that JSON.parse makes own properties but that reach an object's prototype once merged or assigned elsewhere. */
const PROTOTYPE_KEY = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:|"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/

/**
 * True when parsed JSON holds a `__proto__` key, or a `constructor` key whose value is an
 * object with a `prototype` key: exactly what Fastify's body parser (secure-json-parse, with
 * Fastify's default `onProtoPoisoning` and `onConstructorPoisoning: 'error'`) refuses on REST.
 * `text` is the JSON the value was parsed from: most texts are cleared by one regexp test
 * without walking the value.
 */
export function hasPrototypeKeys (text: string, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || !PROTOTYPE_KEY.test(text)) return false
  const pending: object[] = [value]
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (Object.hasOwn(node, '__proto__')) return true
    const ctor: unknown = Object.hasOwn(node, 'constructor') ? (node as { constructor: unknown }).constructor : undefined
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return true
    for (const child of Object.values(node) as unknown[]) {
      if (typeof child === 'object' && child !== null) pending.push(child)
    }
  }
  return false
}
