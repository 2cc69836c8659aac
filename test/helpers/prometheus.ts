/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: every line must
 * be a HELP, a TYPE, a comment, blank, or a well-formed sample of a family whose TYPE came
 * first; histograms must be cumulative and end in +Inf equal to their _count. Anything else
 * throws with the line, so a test that scrapes /metrics proves the text is valid.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: MetricType
  help: string | null
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count']
}

class ParseError extends Error {
  constructor (line: number, text: string, why: string) {
    super(`line ${line}: ${why}: ${JSON.stringify(text)}`)
  }
}

/**
 * A sample value as Prometheus reads it (Go's strconv.ParseFloat): a decimal float, ±Inf, or
 * NaN in any case (prom-client writes "Nan", which Prometheus accepts).
 */
function parseValue (text: string): number | null {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text.toLowerCase() === 'nan') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null
  return Number(text)
}

/** `a="x",b="y\"z"` → labels; null when malformed. */
function parseLabels (text: string): Record<string, string> | null {
  const labels: Record<string, string> = {}
  let rest = text
  while (rest.length > 0) {
    const match = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest)
    if (match === null) return null
    const [whole, name = '', raw = ''] = match
    if (!LABEL_NAME.test(name) || name in labels) return null
    labels[name] = raw.replace(/\\(["\\n])/g, (_m, c: string) => c === 'n' ? '\n' : c)
    rest = rest.slice(whole.length)
  }
  return labels
}

function familyOf (families: Map<string, Family>, sampleName: string): Family | undefined {
  for (const [name, family] of families) {
    for (const suffix of SUFFIXES[family.type]) {
      if (name + suffix === sampleName) return family
    }
  }
  return undefined
}

function checkHistograms (families: Map<string, Family>): void {
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue
    const series = new Map<string, { buckets: Array<[number, number]>, count?: number }>()
    for (const sample of family.samples) {
      const { le, ...rest } = sample.labels
      const key = JSON.stringify(Object.entries(rest).sort())
      const entry = series.get(key) ?? { buckets: [] }
      series.set(key, entry)
      if (sample.name.endsWith('_bucket')) {
        const bound = le === undefined ? null : parseValue(le)
        if (bound === null) throw new Error(`${family.name}: a bucket without a numeric le`)
        entry.buckets.push([bound, sample.value])
      } else if (sample.name.endsWith('_count')) {
        entry.count = sample.value
      }
    }
    for (const [key, { buckets, count }] of series) {
      buckets.sort((x, y) => x[0] - y[0])
      for (let i = 1; i < buckets.length; i++) {
        if ((buckets[i]?.[1] ?? 0) < (buckets[i - 1]?.[1] ?? 0)) throw new Error(`${family.name}${key}: buckets are not cumulative`)
      }
      const last = buckets.at(-1)
      if (last === undefined || last[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
      if (count !== last[1]) throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} differs from _count ${String(count)}`)
    }
  }
}

/** Parses the whole exposition; throws on the first malformed line. */
export function parsePrometheusText (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  lines.forEach((line, index) => {
    const at = index + 1
    if (line.trim() === '') return
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (meta === null) return
      const [, kind, name = '', rest = ''] = meta
      if (!METRIC_NAME.test(name)) throw new ParseError(at, line, 'bad metric name')
      const family = families.get(name)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) throw new ParseError(at, line, 'unknown type')
        if (family !== undefined && (family.samples.length > 0 || family.type !== 'untyped' || family.help === null)) throw new ParseError(at, line, 'TYPE repeated or after samples')
        families.set(name, { name, type: rest as MetricType, help: family?.help ?? null, samples: [] })
      } else {
        if (family?.help != null) throw new ParseError(at, line, 'HELP repeated')
        if (family === undefined) families.set(name, { name, type: 'untyped', help: rest, samples: [] })
        else family.help = rest
      }
      return
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line)
    if (sample === null) throw new ParseError(at, line, 'not a sample')
    const [, name = '', labelText = '', valueText = ''] = sample
    const labels = parseLabels(labelText)
    if (labels === null) throw new ParseError(at, line, 'malformed labels')
    const value = parseValue(valueText)
    if (value === null) throw new ParseError(at, line, 'malformed value')
    const family = familyOf(families, name)
    if (family === undefined) throw new ParseError(at, line, 'sample of a family with no TYPE before it')
    family.samples.push({ name, labels, value })
  })
  checkHistograms(families)
  return families
}

/** The value of the one sample with this name and these labels (others ignored); undefined when absent. */
export function sampleValue (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value
    }
  }
  return undefined
}
