/*
 * The demo chat app in real Chromium against a real Parley (the app as production builds it,
 * over the real MariaDB and Redis): two people in two browser contexts, live typing, edits and
 * reactions, an outage of one of them, a reload; and the Content-Security-Policy under which
 * the demo and the /docs UI run.
 */
import t from 'tap'
import type { BrowserContext, Page } from 'playwright-core'
import { startServer } from '../client/harness.ts'
import { launchChromium, screenshot, watchProblems } from './chromium.ts'

const server = await startServer(t, import.meta.url)
const browser = await launchChromium(t)
const suffix = `${process.pid}`

interface Person {
  context: BrowserContext
  page: Page
  username: string
  /** CSP violations and page errors seen by the person's page. */
  problems: string[]
}

async function person (name: string): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.baseUrl })
  const page = await context.newPage()
  return { context, page, username: `${name}${suffix}`, problems: watchProblems(page) }
}

async function signUp (who: Person, displayName: string, shot?: string): Promise<void> {
  const { page } = who
  await page.goto('/')
  await page.click('.tab:has-text("Create account")')
  await page.fill('input[name=username]', who.username)
  await page.fill('input[name=email]', `${who.username}@example.test`)
  await page.fill('input[name=displayName]', displayName)
  await page.fill('input[name=password]', 'correct horse battery staple')
  if (shot !== undefined) await screenshot(page, shot)
  await page.click('button[type=submit]')
  await page.waitForSelector('[data-testid=chat-list]')
}

/** The texts of the messages the page shows, in order. */
async function shownMessages (page: Page): Promise<string[]> {
  return await page.locator('[data-testid=message] [data-testid=message-content]').allTextContents()
}

const alice = await person('alice')
const bob = await person('bob')

t.test('two people chat in a new group: the second sees the message, typing, the edit and the reaction live', async (t) => {
  await signUp(alice, 'Alice Martin', 'sign-up')
  await signUp(bob, 'Bob Chen')

  await alice.page.click('[data-testid=new-group]')
  await alice.page.fill('[data-testid=group-name]', 'Weekend trip')
  await alice.page.fill('[data-testid=user-search]', bob.username)
  await alice.page.click(`[data-testid=user-result][data-username="${bob.username}"]`)
  await screenshot(alice.page, 'new-group')
  await alice.page.click('[data-testid=create-group]')
  await alice.page.waitForSelector('[data-testid=chat-title]:has-text("Weekend trip")')

  const bobsItem = bob.page.locator('[data-testid=chat-item]:has-text("Weekend trip")')
  await bobsItem.waitFor()
  t.pass('the new group appears in bob\'s list without a reload')

  await alice.page.fill('[data-testid=composer]', 'Are we still on for Saturday?')
  await alice.page.press('[data-testid=composer]', 'Enter')
  await bobsItem.locator('[data-testid=unread-badge]:has-text("1")').waitFor()
  t.pass('an unread badge counts the message bob has not read')
  await screenshot(bob.page, 'chat-list-unread')
  await bobsItem.click()
  await bob.page.waitForSelector('[data-testid=message-content]:has-text("Saturday")')
  // The badge goes when the mark-read round trip is answered, which can trail the render.
  await bobsItem.locator('[data-testid=unread-badge]').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {})
  t.equal(await bobsItem.locator('[data-testid=unread-badge]').count(), 0, 'opening the chat reads it')

  await alice.page.type('[data-testid=composer]', 'I will bring snacks', { delay: 40 })
  await bob.page.waitForSelector('[data-testid=typing]:has-text("Alice Martin is typing")')
  t.pass('bob sees alice typing')
  await alice.page.press('[data-testid=composer]', 'Enter')
  await bob.page.waitForSelector('[data-testid=message-content]:text-is("I will bring snacks")')
  t.same(await shownMessages(bob.page), ['Are we still on for Saturday?', 'I will bring snacks'], 'bob sees the message')

  const aliceMessage = alice.page.locator('[data-testid=message]:has-text("I will bring snacks")')
  await aliceMessage.hover()
  await aliceMessage.locator('[data-testid=edit]').click()
  await alice.page.fill('[data-testid=composer]', 'I will bring snacks and drinks')
  await alice.page.press('[data-testid=composer]', 'Enter')
  const bobsCopy = bob.page.locator('[data-testid=message]:has-text("snacks and drinks")')
  await bobsCopy.locator('[data-testid=edited]').waitFor()
  t.pass('bob sees the edit, marked edited')

  await aliceMessage.hover()
  await aliceMessage.locator('[data-testid=react]').click()
  await alice.page.click('[aria-label="React 🎉"]')
  await bobsCopy.locator('[data-testid=reaction]:has-text("🎉 1")').waitFor()
  t.pass('bob sees the reaction')

  const bobsFirst = bob.page.locator('[data-testid=message]:has-text("Saturday")')
  await bobsFirst.hover()
  await bobsFirst.locator('[data-testid=reply]').click()
  await bob.page.fill('[data-testid=composer]', 'Yes! Meet at the station at 9')
  await bob.page.press('[data-testid=composer]', 'Enter')
  const reply = alice.page.locator('[data-testid=message]:has-text("Meet at the station")')
  await reply.locator('[data-testid=reply-quote]:has-text("Are we still on for Saturday?")').waitFor()
  t.pass('alice sees bob\'s reply with its quote')
  await alice.page.locator('[data-testid=receipt]').filter({ hasText: 'Seen by Bob Chen' }).waitFor()
  t.pass('alice sees that bob read her messages')

  await bob.page.click('[data-testid=search-toggle]')
  await bob.page.fill('[data-testid=search-input]', 'drinks')
  await bob.page.press('[data-testid=search-input]', 'Enter')
  await bob.page.locator('[data-testid=search-result]:has-text("snacks and drinks")').waitFor()
  t.pass('search finds the edited message')
  await screenshot(bob.page, 'search')
  await bob.page.click('[data-testid=search-toggle]')
  await screenshot(alice.page, 'conversation')
  await screenshot(bob.page, 'conversation-bob')
})

t.test('offline, the second misses five messages; back online it shows all five once, in order', async (t) => {
  const sent = ['one', 'two', 'three', 'four', 'five'].map((word) => `offline ${word}`)
  await bob.context.setOffline(true)
  await bob.page.locator('[data-testid=connection].reconnecting').waitFor()
  t.pass('bob\'s app shows it is offline')
  for (const text of sent) {
    await alice.page.fill('[data-testid=composer]', text)
    await alice.page.press('[data-testid=composer]', 'Enter')
  }
  await alice.page.waitForSelector('[data-testid=message-content]:text-is("offline five")')
  await bob.page.waitForTimeout(1000)
  t.same((await shownMessages(bob.page)).filter((text) => text.startsWith('offline')), [], 'nothing reaches bob while offline')

  await bob.context.setOffline(false)
  await bob.page.waitForSelector('[data-testid=message-content]:text-is("offline five")')
  await bob.page.locator('[data-testid=connection].open').waitFor()
  const shown = await shownMessages(bob.page)
  t.same(shown.filter((text) => text.startsWith('offline')), sent, 'all five, once each, in order')
  t.same(shown, await shownMessages(alice.page), 'the same conversation on both sides')
})

t.test('a reload keeps the session and the conversation', async (t) => {
  await bob.page.reload()
  await bob.page.waitForSelector('[data-testid=chat-list]')
  t.equal(await bob.page.locator('.auth-card').count(), 0, 'no sign-in screen')
  t.equal(await bob.page.textContent('[data-testid=me]'), 'Bob Chen')
  await bob.page.click('[data-testid=chat-item]:has-text("Weekend trip")')
  await bob.page.waitForSelector('[data-testid=message-content]:text-is("offline five")')
  t.same(await shownMessages(bob.page), await shownMessages(alice.page), 'the whole conversation, in order')
  await alice.page.fill('[data-testid=composer]', 'welcome back')
  await alice.page.press('[data-testid=composer]', 'Enter')
  await bob.page.waitForSelector('[data-testid=message-content]:text-is("welcome back")')
  t.pass('and live messages keep coming')
})

t.test('the demo and the /docs UI run under the Content-Security-Policy', async (t) => {
  const response = await alice.page.goto('/docs')
  const csp = (await fetch(`${server.baseUrl}/`)).headers.get('content-security-policy') ?? ''
  t.match(csp, /script-src 'self'/, 'the demo page is served with a CSP')
  t.match(response?.headers()['content-security-policy'] ?? '', /default-src 'self'/, 'so is /docs')
  await alice.page.locator('.swagger-ui .info .title:has-text("Parley API")').waitFor()
  t.ok(await alice.page.locator('.swagger-ui .opblock').count() > 40, 'the operations are listed')
  await alice.page.goto('/')
  await alice.page.waitForSelector('[data-testid=chat-list]')
  t.same([...alice.problems, ...bob.problems], [], 'no CSP violation and no page error on any page of this file')
})
