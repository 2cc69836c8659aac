import type { AuthTokens, ChangePasswordRequest, CurrentUser, LoginRequest, LogoutResult, PasswordChanged, RegisterRequest, WsTicket } from '@parley/types'
import type { Call } from '../http.ts'

/** /auth (DESIGN §4). Sign-up, sign-in and refresh go without a token; the client keeps the tokens they return. */
export function authApi (call: Call) {
  return {
    register: async (body: RegisterRequest) => await call<AuthTokens>('POST', '/auth/register', { body, anonymous: true }),
    login: async (body: LoginRequest) => await call<AuthTokens>('POST', '/auth/login', { body, anonymous: true }),
    refresh: async (refreshToken: string) => await call<AuthTokens>('POST', '/auth/refresh', { body: { refreshToken }, anonymous: true }),
    logout: async () => await call<LogoutResult>('POST', '/auth/logout'),
    /** Changes the password; every other session of the user ends (their sockets close with 4001). */
    changePassword: async (body: ChangePasswordRequest) => await call<PasswordChanged>('POST', '/auth/password', { body }),
    me: async () => await call<CurrentUser>('GET', '/auth/me'),
    /** A single-use ticket (30 s) for `?ticket=` on the WebSocket URL, so no JWT sits in a URL. */
    wsTicket: async () => await call<WsTicket>('POST', '/auth/ws-ticket')
  }
}
