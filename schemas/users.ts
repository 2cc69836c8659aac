import { Type, type Static } from '@sinclair/typebox'

/** A user as every API shows them (DESIGN §4): never the password hash or other private fields. */
export const PublicUser = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  username: Type.String(),
  email: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  avatarUrl: Type.Union([Type.String(), Type.Null()])
}, { $id: 'PublicUser' })
export type PublicUser = Static<typeof PublicUser>

export const userSchemas = [PublicUser]
