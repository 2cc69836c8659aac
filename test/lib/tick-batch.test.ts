import t from 'tap'
import { tickBatch } from '../../src/lib/tick-batch.ts'

t.test('lookups made in one turn share one load, each caller getting its own key', async (t) => {
  const loads: number[][] = []
  const square = tickBatch(async (keys: number[]) => {
    loads.push([...keys])
    return new Map(keys.filter((k) => k !== 3).map((k) => [k, k * k]))
  }, -1)
  const values = await Promise.all([square(1), square(2), square(2), square(3)])
  t.same(values, [1, 4, 4, -1], 'a key the load does not answer gets the fallback')
  t.same(loads, [[1, 2, 3]])
  t.equal(await square(4), 16)
  t.equal(loads.length, 2, 'a later turn loads again')
})

t.test('a failed load fails every caller of its batch', async (t) => {
  const failing = tickBatch(async (): Promise<Map<number, number>> => { throw new Error('down') }, 0)
  const results = await Promise.allSettled([failing(1), failing(2)])
  t.same(results.map((r) => r.status), ['rejected', 'rejected'])
})
