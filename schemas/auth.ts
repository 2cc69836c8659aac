import { Type, type Static } from '@sinclair/typebox'
import { Ref, isoDateTime } from './common.ts'
import { PublicUser } from './users.ts'

/*
 * The auth area (DESIGN §4, seed 01 §2). Every input is bounded; request bodies reject
 * unknown properties so a typo (`pasword`) is a 400, not a silently ignored field.
 */

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254, description: 'Stored lowercased' })
export const Username = Type.String({ pattern: '^[A-Za-z0-9_.-]{3,32}$', minLength: 3, maxLength: 32 })
export const Password = Type.String({ minLength: 8, maxLength: 128 })
export const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' })
/** Refresh tokens are opaque to clients; the bound only keeps junk out. */
export const RefreshTokenString = Type.String({ minLength: 16, maxLength: 256 })

export const RegisterRequest = Type.Object({
  email: Email,
  username: Username,
  password: Password,
  displayName: Type.Optional(DisplayName)
}, { $id: 'RegisterRequest', additionalProperties: false })
export type RegisterRequest = Static<typeof RegisterRequest>

export const LoginRequest = Type.Object({
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, {
  $id: 'LoginRequest',
  additionalProperties: false,
  description: 'Exactly one of `email` or `username`, and the password.'
})
export type LoginRequest = Static<typeof LoginRequest>

export const RefreshRequest = Type.Object({
  refreshToken: RefreshTokenString
}, { $id: 'RefreshRequest', additionalProperties: false })
export type RefreshRequest = Static<typeof RefreshRequest>

/** What register, login and refresh answer: a fresh access token, the next refresh token and the user. */
export const AuthTokens = Type.Object({
  token: Type.String({ description: 'Access JWT (seed 01 §2.1), sent as `Authorization: Bearer`' }),
  refreshToken: Type.String({ description: 'Single use: each refresh returns the next one' }),
  user: Ref(PublicUser)
}, { $id: 'AuthTokens' })
export type AuthTokens = Static<typeof AuthTokens>

/** POST /auth/password: the current password proves it is the owner, not a stolen token. */
export const ChangePasswordRequest = Type.Object({
  currentPassword: Type.String({ minLength: 1, maxLength: 128 }),
  newPassword: Password
}, { $id: 'ChangePasswordRequest', additionalProperties: false })
export type ChangePasswordRequest = Static<typeof ChangePasswordRequest>

export const PasswordChanged = Type.Object({
  passwordChanged: Type.Literal(true),
  sessionsEnded: Type.Integer({ minimum: 0, description: 'The other sessions signed out (their tokens stop working, their sockets close with 4001)' })
}, { $id: 'PasswordChanged' })
export type PasswordChanged = Static<typeof PasswordChanged>

export const LogoutResult = Type.Object({
  loggedOut: Type.Literal(true)
}, { $id: 'LogoutResult' })
export type LogoutResult = Static<typeof LogoutResult>

export const CurrentUser = Type.Object({
  user: Ref(PublicUser)
}, { $id: 'CurrentUser' })
export type CurrentUser = Static<typeof CurrentUser>

export const WsTicket = Type.Object({
  ticket: Type.String({ description: 'Single use, for `?ticket=` on the WebSocket URL' }),
  expiresIn: Type.Integer({ description: 'Seconds the ticket stays valid' }),
  expiresAt: isoDateTime()
}, { $id: 'WsTicket' })
export type WsTicket = Static<typeof WsTicket>

export const authSchemas = [RegisterRequest, LoginRequest, RefreshRequest, AuthTokens, ChangePasswordRequest, PasswordChanged, LogoutResult, CurrentUser, WsTicket]
