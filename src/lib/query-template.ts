import { CompiledQuery, type Compilable } from 'kysely'

/** Where a template's value goes: Kysely carries it into the compiled parameters like any value. */
class Slot {
  readonly index: number
  constructor (index: number) {
    this.index = index
  }
}

/**
 * A Kysely query built and compiled once, then run with new values (issue 16.5: building and
 * compiling the history page's query cost more per page than its decryption once that was
 * cached). `build` receives placeholders in place of its arguments and must use each as a
 * plain value (a comparison, a limit, an element of an `in` list): never branch on one. A
 * `build` with rest parameters names its `arity` (a template per list length). The SQL is
 * Kysely's, so it stays typed and escaped as every other query.
 *
 * @example
 * const byId = queryTemplate((id: number) => db.selectFrom('users').selectAll().where('id', '=', id))
 * const { rows } = await db.executeQuery(byId(42))
 */
export function queryTemplate<Args extends unknown[], Row> (build: (...values: Args) => Compilable<Row>, arity: number = build.length): (...values: Args) => CompiledQuery<Row> {
  let compiled: CompiledQuery<Row> | null = null
  return (...values) => {
    if (compiled === null) compiled = build(...(Array.from({ length: arity }, (_, i) => new Slot(i)) as unknown as Args)).compile()
    const parameters = compiled.parameters.map((p) => p instanceof Slot ? values[p.index] : p)
    return CompiledQuery.raw(compiled.sql, parameters) as CompiledQuery<Row>
  }
}
