import type { AuthTokens, PublicUser } from '@parley/types'
import { ParleyError } from './errors.ts'
import { clearTimer, decodeBase64Url, setTimer, type TimerHandle } from './platform.ts'

/** What a session needs to go on: an access token and the refresh token that renews it. */
export interface SessionTokens {
  token: string
  refreshToken: string
  /** The signed-in user, when known (register, login and refresh return it). */
  user?: PublicUser
}

export interface SessionOptions {
  /** Trades a refresh token for new tokens (POST /auth/refresh). */
  refresh: (refreshToken: string) => Promise<AuthTokens>
  /** New tokens are in place (after login, register or a refresh): persist them, re-authenticate the socket. */
  onTokens: (tokens: SessionTokens) => void
  /** The server refused the refresh token: the user must sign in again. */
  onEnded: (error: ParleyError) => void
}

/** Refresh this long before expiry at most, and at least this fraction of the token's lifetime before. */
const MAX_REFRESH_MARGIN_MS = 60_000
const REFRESH_MARGIN_FRACTION = 0.2
/** After a refresh that failed for want of network, try again this much later. */
const REFRESH_RETRY_MS = 5_000

/** `exp` and `iat` of a JWT in ms, or null when it cannot be read (an opaque token). */
export function tokenTimes (token: string): { issuedAt: number | null, expiresAt: number } | null {
  const payload = token.split('.')[1]
  if (payload === undefined) return null
  try {
    const claims = JSON.parse(decodeBase64Url(payload)) as { exp?: unknown, iat?: unknown }
    if (typeof claims.exp !== 'number') return null
    return { expiresAt: claims.exp * 1000, issuedAt: typeof claims.iat === 'number' ? claims.iat * 1000 : null }
  } catch {
    return null
  }
}

/**
 * The signed-in session: the current tokens, renewed ahead of the access token's expiry and on
 * demand (a 401, a 4001 close). Refreshes are single-flight: refresh tokens are single use, so
 * two concurrent refreshes would end the session as a replay.
 */
export class Session {
  private current: SessionTokens | null = null
  private refreshing: Promise<boolean> | null = null
  private timer: TimerHandle | null = null
  private readonly options: SessionOptions
  private closed = false

  constructor (options: SessionOptions) {
    this.options = options
  }

  get tokens (): SessionTokens | null {
    return this.current
  }

  get accessToken (): string | null {
    return this.current?.token ?? null
  }

  /** Puts new tokens in place and schedules their renewal. */
  set (tokens: SessionTokens): void {
    const user = tokens.user ?? this.current?.user
    this.current = user === undefined ? { token: tokens.token, refreshToken: tokens.refreshToken } : { ...tokens, user }
    this.schedule()
    this.options.onTokens(this.current)
  }

  clear (): void {
    this.current = null
    clearTimer(this.timer)
    this.timer = null
  }

  close (): void {
    this.closed = true
    this.clear()
  }

  /**
   * Renews the tokens now (joining a refresh already running). True when new tokens are in
   * place; false when the server refused the refresh token (the session is over and `onEnded`
   * was called). A network failure throws, and the session stays as it is.
   */
  async refresh (): Promise<boolean> {
    this.refreshing ??= this.renew().finally(() => { this.refreshing = null })
    return await this.refreshing
  }

  private async renew (): Promise<boolean> {
    const tokens = this.current
    if (tokens === null || this.closed) return false
    try {
      const next = await this.options.refresh(tokens.refreshToken)
      // Signed out (or signed in as someone else) meanwhile: these tokens are not for now.
      if (this.current !== tokens) return this.current !== null
      this.set(next)
      return true
    } catch (err) {
      if (err instanceof ParleyError && (err.code === 'UNAUTHORIZED' || err.status === 401)) {
        if (this.current === tokens) {
          this.clear()
          this.options.onEnded(err)
        }
        return false
      }
      throw err
    }
  }

  private schedule (): void {
    clearTimer(this.timer)
    this.timer = null
    if (this.current === null || this.closed) return
    const times = tokenTimes(this.current.token)
    if (times === null) return
    const lifetime = times.issuedAt === null ? MAX_REFRESH_MARGIN_MS * 5 : times.expiresAt - times.issuedAt
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, Math.max(1000, lifetime * REFRESH_MARGIN_FRACTION))
    this.timer = setTimer(() => { this.refreshAhead() }, Math.max(0, times.expiresAt - margin - Date.now()))
  }

  private refreshAhead (): void {
    this.timer = null
    this.refresh().catch(() => {
      // No network: try again shortly; past expiry the next 401 or reconnect refreshes anyway.
      if (this.current !== null && !this.closed) this.timer = setTimer(() => { this.refreshAhead() }, REFRESH_RETRY_MS)
    })
  }
}
