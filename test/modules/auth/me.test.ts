import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser } from '../../helpers/users.ts'

// One app for the file: each test makes its own users, sessions and client addresses.
const app = await buildTestApp(t, import.meta.url)

const url = '/mirror/api/auth/me'

t.test('GET /auth/me answers the signed-in user', async (t) => {
  const { user, auth } = await registerUser(app, { displayName: 'Me Myself' })
  const res = await app.inject({ method: 'GET', url, headers: auth })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { success: true, data: { user: { ...user, displayName: 'Me Myself' } }, timestamp: String })
  t.same(Object.keys(res.json().data.user).sort(), ['avatarUrl', 'displayName', 'email', 'id', 'username'])
})

t.test('GET /auth/me shows the current profile, not the one in the token', async (t) => {
  const { user, auth } = await registerUser(app)
  await app.db.updateTable('users').set({ display_name: 'Renamed', avatar_url: 'https://cdn.example.test/a.png' }).where('id', '=', user.id).execute()
  const res = await app.inject({ method: 'GET', url, headers: auth })
  t.match(res.json().data.user, { id: user.id, displayName: 'Renamed', avatarUrl: 'https://cdn.example.test/a.png' })
})

t.test('GET /auth/me without a token answers 401', async (t) => {
  const res = await app.inject({ method: 'GET', url })
  t.equal(res.statusCode, 401)
  t.match(res.json(), { success: false, code: 'UNAUTHORIZED' })
})
