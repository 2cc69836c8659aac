/*
 * Real Chromium for the browser tests: Debian's `chromium` package driven by playwright-core
 * (no downloaded browser), headless, in a fresh profile per launch. `.ci/run` installs the
 * package when it is missing.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
/** Screenshots of the main screens (git-ignored); docs/demo.png is the one the README shows. */
export const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url))

interface Teardown { teardown: (fn: () => unknown) => void }

/** Launches Chromium (each launch gets a new temporary user-data-dir); closed when the test ends. */
export async function launchChromium (t: Teardown): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  t.teardown(async () => { await browser.close() })
  mkdirSync(SCREENSHOTS, { recursive: true })
  return browser
}

/** Saves a screenshot of the page under test/browser/screenshots/. */
export async function screenshot (page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}

/** Every Content-Security-Policy violation and page error of a page, for asserting there are none. */
export function watchProblems (page: Page): string[] {
  const problems: string[] = []
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${page.url()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => { problems.push(`${page.url()}: ${error.message}`) })
  return problems
}
