import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from '../../helpers/app.ts'
import { createStatementPool } from '../../../db/connection.ts'
import { createSendBatcher, LINGER_MS, SEND_LANES, type PendingMessage, type SendBatcher } from '../../../src/modules/chat/send-batcher.ts'
import { createChatGroup } from '../../helpers/api.ts'
import { pendingMessage } from '../../helpers/pending-message.ts'

/*
 * The send batcher's linger (send-batcher.ts, LINGER_MS): an idle lane holds a send for
 * company only while sends keep arriving within LINGER_MS of each other, never otherwise.
 * A batcher of its own over its own pool, so every commit's size is seen.
 */
const app = await buildTestApp(t, import.meta.url)
const pool = createStatementPool(app.config.databaseUrl, SEND_LANES)
t.teardown(async () => { await pool.end() })

const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

async function setUp (): Promise<{ batcher: SendBatcher, commits: number[], message: (text: string) => PendingMessage }> {
  const group = await createChatGroup(app, { memberCount: 1 })
  const commits: number[] = []
  const batcher = createSendBatcher(pool, (messages) => { commits.push(messages) })
  // One group, so every send goes to the same lane.
  const message = (text: string): PendingMessage => pendingMessage(group.groupId, group.owner.user.id, { content: text })
  return { batcher, commits, message }
}

t.test('while sends come in bursts, a send arriving at an idle lane waits for the next one and they commit together', async (t) => {
  const { batcher, commits, message } = await setUp()
  // Bursts: sends arriving together, as the fanout bench's ticks make them.
  for (let burst = 0; burst < 3; burst++) {
    await Promise.all(Array.from({ length: 4 }, async (_, i) => await batcher.commit(message(`burst ${burst} send ${i}`))))
  }
  // The linger is real time (LINGER_MS): a process descheduled for longer than that between
  // the two sends lets the first leave alone. So up to five tries, of which one must carry both;
  // without the linger none can, since the first always leaves at the end of its turn.
  const carried: number[][] = []
  for (let attempt = 0; attempt < 5; attempt++) {
    commits.length = 0
    const first = batcher.commit(message(`first of a burst, try ${attempt}`))
    // A turn of the event loop later (a send without the linger would have left alone by now),
    // well within LINGER_MS, the next send of the burst arrives.
    await turn()
    await turn()
    const second = batcher.commit(message(`second of a burst, try ${attempt}`))
    const outcomes = await Promise.all([first, second])
    const seqs = outcomes.map((o) => 'seq' in o ? o.seq : 0)
    t.equal(seqs[1], (seqs[0] ?? 0) + 1, 'both committed, in arrival order')
    carried.push([...commits])
    if (commits.length === 1 && commits[0] === 2) break
  }
  t.ok(carried.some((c) => c.length === 1 && c[0] === 2), `one transaction carried both (commits per try: ${JSON.stringify(carried)})`)
})

t.test('sends further apart than the linger are never held: each commits at once, alone', async (t) => {
  const { batcher, commits, message } = await setUp()
  for (let i = 0; i < 4; i++) {
    await batcher.commit(message(`spaced ${i}`))
    await sleep(LINGER_MS * 3)
  }
  commits.length = 0

  const first = batcher.commit(message('a lone send'))
  await turn()
  await turn()
  const second = batcher.commit(message('another, later'))
  await Promise.all([first, second])
  t.same(commits, [1, 1], 'the first send did not wait for the second')
})
