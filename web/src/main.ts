/*
 * Parley's demo chat app: plain TypeScript and DOM on @parley/client. The session is kept in
 * localStorage (a reload stays signed in), unsent messages too (the client's outbox storage).
 */
import { ParleyClient, webStorageOutbox, type SessionTokens } from '@parley/client'
import type { PublicUser } from '@parley/types'
import { Store } from './store.ts'
import { AppView } from './ui/app-view.ts'
import { renderAuth, type Credentials } from './ui/auth-view.ts'
import './styles.css'

const SESSION_KEY = 'parley.session'

interface Settings {
  baseUrl: string
  apiPrefix: string
  wsPath: string
}

function settings (): Settings {
  const meta = (name: string, fallback: string): string => {
    const value = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? ''
    return value === '' || value.startsWith('%') ? fallback : value
  }
  return {
    baseUrl: meta('parley-base-url', window.location.origin),
    apiPrefix: meta('parley-api-prefix', '/mirror/api'),
    wsPath: meta('parley-ws-path', '/mirror/groups/chat')
  }
}

function savedSession (): (SessionTokens & { user: PublicUser }) | null {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as SessionTokens | null
    return session?.user === undefined ? null : session as SessionTokens & { user: PublicUser }
  } catch {
    return null
  }
}

const root = document.getElementById('app') as HTMLElement
const config = settings()
let current: ParleyClient | null = null

function newClient (session: SessionTokens | null, user: PublicUser | null): ParleyClient {
  return new ParleyClient({
    baseUrl: config.baseUrl,
    apiPrefix: config.apiPrefix,
    wsPath: config.wsPath,
    session,
    outbox: user === null ? {} : { storage: webStorageOutbox(localStorage, `parley.outbox.${user.id}`) }
  })
}

function signedOut (): void {
  current?.close()
  current = null
  localStorage.removeItem(SESSION_KEY)
  showAuth()
}

function showAuth (): void {
  renderAuth(root, async (credentials: Credentials) => {
    const client = newClient(null, null)
    try {
      const tokens = credentials.mode === 'login'
        ? await client.login({ username: credentials.username, password: credentials.password })
        : await client.register({
          username: credentials.username,
          email: credentials.email,
          password: credentials.password,
          ...(credentials.displayName === '' ? {} : { displayName: credentials.displayName })
        })
      localStorage.setItem(SESSION_KEY, JSON.stringify(tokens))
      await startApp({ ...tokens, user: tokens.user })
    } finally {
      client.close()
    }
  })
}

async function startApp (session: SessionTokens & { user: PublicUser }): Promise<void> {
  const client = newClient(session, session.user)
  current = client
  client.on('tokens', (tokens) => { localStorage.setItem(SESSION_KEY, JSON.stringify(tokens)) })
  const store = new Store(client, session.user, signedOut)
  const view = new AppView(root, store)
  await store.start().catch(() => { /* authFailed signs out; a network failure shows as offline */ })
  void view
}

const saved = savedSession()
if (saved === null) showAuth()
else void startApp(saved)
