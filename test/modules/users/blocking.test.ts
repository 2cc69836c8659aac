import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { call } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users.
const app = await buildTestApp(t, import.meta.url)

async function blockedList (app: FastifyInstance, as: TestUser): Promise<number[]> {
  const res = await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/users/blocked`, headers: as.auth })
  return (res.json().data.users as Array<{ id: number }>).map((u) => u.id)
}

t.test('blocking a user answers blocked true and lists them under /users/blocked', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const res = await call(app, alice, 'POST', `/users/${bob.user.id}/block`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { blocked: true, userId: bob.user.id })
  t.same(await blockedList(app, alice), [bob.user.id])
  t.same(await blockedList(app, bob), [], 'a block is one-way')
})

t.test('blocking accepts seed 04\'s optional reason body', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const res = await call(app, alice, 'POST', `/users/${bob.user.id}/block`, { reason: 'Spam' })
  t.equal(res.statusCode, 200)
  t.same(await blockedList(app, alice), [bob.user.id])
})

t.test('blocking twice and unblocking twice are idempotent', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  t.equal((await call(app, alice, 'POST', `/users/${bob.user.id}/block`)).statusCode, 200)
  t.equal((await call(app, alice, 'POST', `/users/${bob.user.id}/block`)).statusCode, 200)
  t.same(await blockedList(app, alice), [bob.user.id])
  const first = await call(app, alice, 'POST', `/users/${bob.user.id}/unblock`)
  t.equal(first.statusCode, 200)
  t.same(first.json().data, { blocked: false, userId: bob.user.id })
  t.equal((await call(app, alice, 'POST', `/users/${bob.user.id}/unblock`)).statusCode, 200)
  t.same(await blockedList(app, alice), [])
})

t.test('the blocked list is most recent first', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  await call(app, alice, 'POST', `/users/${bob.user.id}/block`)
  // The list is ordered by the database's own timestamps: let them differ.
  await new Promise((resolve) => setTimeout(resolve, 5))
  await call(app, alice, 'POST', `/users/${carol.user.id}/block`)
  t.same(await blockedList(app, alice), [carol.user.id, bob.user.id])
})

t.test('blocking or unblocking yourself answers 400', async (t) => {
  const alice = await registerUser(app)
  for (const action of ['block', 'unblock']) {
    const res = await call(app, alice, 'POST', `/users/${alice.user.id}/${action}`)
    t.equal(res.statusCode, 400, action)
    t.match(res.json(), { code: 'VALIDATION_ERROR', validationErrors: [{ field: 'id' }] })
  }
})

t.test('blocking or unblocking an unknown user answers 404', async (t) => {
  const alice = await registerUser(app)
  for (const action of ['block', 'unblock']) {
    const res = await call(app, alice, 'POST', `/users/999999/${action}`)
    t.equal(res.statusCode, 404, action)
    t.match(res.json(), { code: 'NOT_FOUND' })
  }
})

t.test('userService.isBlocked is one-way and eitherBlocked sees both directions', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const carol = await registerUser(app)
  await call(app, alice, 'POST', `/users/${bob.user.id}/block`)
  t.equal(await app.userService.isBlocked(alice.user.id, bob.user.id), true)
  t.equal(await app.userService.isBlocked(bob.user.id, alice.user.id), false)
  t.equal(await app.userService.eitherBlocked(bob.user.id, alice.user.id), true)
  t.equal(await app.userService.eitherBlocked(alice.user.id, bob.user.id), true)
  t.equal(await app.userService.eitherBlocked(alice.user.id, carol.user.id), false)
  await call(app, alice, 'POST', `/users/${bob.user.id}/unblock`)
  t.equal(await app.userService.eitherBlocked(alice.user.id, bob.user.id), false)
})
