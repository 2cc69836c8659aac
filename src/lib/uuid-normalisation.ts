/*
 * UUIDs are lower-cased where they enter (DESIGN §6): both validators accept upper-case
 * UUIDs, but subscriptions, bus channels and caches key groups by the string, so `ABC…` and
 * `abc…` must be one id before anything reads them. What to lower-case is read from the
 * schema the input was declared with — every string of `format: 'uuid'`, through `$ref`,
 * `allOf`/`anyOf`/`oneOf`, objects and arrays — so user text (message content, metadata.custom,
 * a clientMessageId) is never touched.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Lower-cases the UUIDs of a value in place (objects and arrays); returns the value, replaced when it is a UUID itself. */
export type UuidNormaliser = (value: unknown) => unknown

/** Finds a shared schema by `$id`. */
export type SchemaResolver = (id: string) => unknown

/** Where the UUIDs of one schema are: this value, some of its properties, its items. */
interface Plan {
  uuid: boolean
  properties: Map<string, Plan>
  items: Plan | null
}

type JsonSchema = Record<string, unknown>

const isSchema = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value)

const emptyPlan = (): Plan => ({ uuid: false, properties: new Map(), items: null })

const isEmpty = (plan: Plan): boolean => !plan.uuid && plan.properties.size === 0 && plan.items === null

/** A value matching several schemas (allOf, anyOf…) gets every UUID any of them declares. */
function merge (into: Plan, from: Plan): Plan {
  into.uuid ||= from.uuid
  for (const [key, plan] of from.properties) {
    const existing = into.properties.get(key)
    into.properties.set(key, existing === undefined ? plan : merge(existing, plan))
  }
  if (from.items !== null) into.items = into.items === null ? from.items : merge(into.items, from.items)
  return into
}

function planOf (schema: unknown, resolve: SchemaResolver, resolving: Set<string>): Plan {
  const plan = emptyPlan()
  if (!isSchema(schema)) return plan
  const ref = schema.$ref
  if (typeof ref === 'string') {
    // A recursive schema holds no UUID the outer visit has not already planned for.
    if (resolving.has(ref)) return plan
    const target = resolve(ref)
    if (target === undefined) throw new Error(`UUID normalisation: no schema ${ref}`)
    resolving.add(ref)
    merge(plan, planOf(target, resolve, resolving))
    resolving.delete(ref)
  }
  if (schema.format === 'uuid') plan.uuid = true
  for (const keyword of ['allOf', 'anyOf', 'oneOf']) {
    const branches = schema[keyword]
    if (Array.isArray(branches)) for (const branch of branches) merge(plan, planOf(branch, resolve, resolving))
  }
  if (isSchema(schema.properties)) {
    for (const [key, property] of Object.entries(schema.properties)) {
      const propertyPlan = planOf(property, resolve, resolving)
      if (!isEmpty(propertyPlan)) merge(plan, { uuid: false, properties: new Map([[key, propertyPlan]]), items: null })
    }
  }
  // Records (additionalProperties, patternProperties) are user data such as metadata.custom: never planned.
  const items = Array.isArray(schema.items) ? schema.items : schema.items === undefined ? [] : [schema.items]
  for (const item of items) {
    const itemPlan = planOf(item, resolve, resolving)
    if (!isEmpty(itemPlan)) plan.items = plan.items === null ? itemPlan : merge(plan.items, itemPlan)
  }
  return plan
}

function apply (plan: Plan, value: unknown): unknown {
  if (typeof value === 'string') return plan.uuid && UUID.test(value) ? value.toLowerCase() : value
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    if (plan.items !== null) for (let i = 0; i < value.length; i++) value[i] = apply(plan.items, value[i])
    return value
  }
  const record = value as Record<string, unknown>
  for (const [key, child] of plan.properties) {
    if (Object.hasOwn(record, key)) record[key] = apply(child, record[key])
  }
  return value
}

/**
 * The normaliser of values declared by `schema`, or null when the schema declares no UUID (so
 * callers skip the work). Planned once per schema; each call visits only the planned fields.
 */
export function uuidNormaliser (schema: unknown, resolve: SchemaResolver): UuidNormaliser | null {
  const plan = planOf(schema, resolve, new Set())
  if (isEmpty(plan)) return null
  return (value) => apply(plan, value)
}
