import { randomBytes } from 'node:crypto'
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2'

// `Algorithm` is an ambient const enum, which isolatedModules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm

/** OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane. */
export const PASSWORD_HASH_OPTIONS: Options = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1
}

/** A PHC-format argon2id hash of the password, with a random salt. */
export async function hashPassword (password: string): Promise<string> {
  return await hash(password, PASSWORD_HASH_OPTIONS)
}

/** True when the password matches the hash; a malformed hash is a mismatch, never an error. */
export async function verifyPassword (passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

/**
 * A hash of a random password, made once, for logins whose user does not exist (or has no
 * password): verifying against it costs the same argon2 work as a real check, so response
 * time does not tell an unknown account from a wrong password.
 */
export async function createDummyHash (): Promise<string> {
  return await hashPassword(randomBytes(16).toString('base64url'))
}
