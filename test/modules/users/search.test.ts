import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users, with usernames no other test searches for.
const app = await buildTestApp(t, import.meta.url)

async function search (app: FastifyInstance, as: TestUser, query: string) {
  return await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/users?${query}`, headers: as.auth })
}

const usernames = (body: { data: { users: Array<{ username: string }> } }): string[] => body.data.users.map((u) => u.username)

t.test('GET /users?q= finds usernames starting with q, case-insensitively, alphabetically', async (t) => {
  const me = await registerUser(app, { username: 'searcher_one' })
  await registerUser(app, { username: 'Marvin' })
  await registerUser(app, { username: 'martha' })
  await registerUser(app, { username: 'amartin' })
  const res = await search(app, me, 'q=MAR')
  t.equal(res.statusCode, 200)
  t.same(usernames(res.json()), ['martha', 'Marvin'])
})

t.test('GET /users?q= returns 10 users by default and at most limit', async (t) => {
  const me = await registerUser(app, { username: 'searcher_two' })
  for (let i = 0; i < 12; i += 1) await registerUser(app, { username: `crowd${String(i).padStart(2, '0')}` })
  const byDefault = await search(app, me, 'q=crowd')
  t.equal(byDefault.json().data.users.length, 10)
  t.equal(usernames(byDefault.json())[0], 'crowd00')
  const limited = await search(app, me, 'q=crowd&limit=3')
  t.same(usernames(limited.json()), ['crowd00', 'crowd01', 'crowd02'])
})

t.test('GET /users?q= matches LIKE wildcards literally', async (t) => {
  const me = await registerUser(app, { username: 'searcher_three' })
  await registerUser(app, { username: 'wild_card' })
  await registerUser(app, { username: 'wildxcard' })
  const underscore = await search(app, me, 'q=wild_')
  t.same(usernames(underscore.json()), ['wild_card'])
  const percent = await search(app, me, `q=${encodeURIComponent('%')}`)
  t.same(usernames(percent.json()), [])
  const escape = await search(app, me, `q=${encodeURIComponent('!')}`)
  t.same(usernames(escape.json()), [])
})

t.test('GET /users?q= refuses a missing, empty or over-long q and a limit out of 1-20', async (t) => {
  const me = await registerUser(app, { username: 'searcher_four' })
  for (const query of ['', 'q=', `q=${'a'.repeat(33)}`, 'q=a&limit=0', 'q=a&limit=21', 'q=a&limit=x']) {
    const res = await search(app, me, query)
    t.equal(res.statusCode, 400, query.slice(0, 20))
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR', validationErrors: Array })
  }
})
