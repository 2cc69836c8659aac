import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import type { PublicKeyTypeName } from '../../../db/database.ts'
import { invalid } from '../../lib/app-error.ts'

/*
 * Public keys as the directory accepts them, checked with node:crypto: an SPKI PEM
 * ("-----BEGIN PUBLIC KEY-----") of X25519, Ed25519, EC P-256/384/521 or RSA ≥ 2048 bits, or a
 * raw 32-byte X25519 or Ed25519 key in base64 (standard or URL-safe alphabet).
 *
 * The fingerprint is the lowercase hex SHA-256 of the key's SubjectPublicKeyInfo DER, as
 * node:crypto exports it. A raw key is first wrapped in its SPKI (the fixed RFC 8410 prefix),
 * so both forms of one key have one fingerprint.
 */

export interface PublicKeyMaterial {
  keyType: PublicKeyTypeName
  /** What is stored and served: the canonical PEM, or the raw key in standard base64. */
  publicKey: string
  fingerprint: string
}

/** RFC 8410 SPKI DER headers before a 32-byte key: SEQUENCE { SEQUENCE { OID }, BIT STRING }. */
const RAW_SPKI_PREFIX = {
  x25519: Buffer.from('302a300506032b656e032100', 'hex'),
  ed25519: Buffer.from('302a300506032b6570032100', 'hex')
} as const

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END PUBLIC KEY-----\s*$/
const RAW_BASE64 = /^[A-Za-z0-9+/_-]{43}=?$/
const MIN_RSA_BITS = 2048
const CURVES: Record<string, PublicKeyTypeName> = { prime256v1: 'ec-p256', secp384r1: 'ec-p384', secp521r1: 'ec-p521' }

const refuse = (message: string): never => { throw invalid('publicKey', message) }

/** SHA-256 hex of the key's SPKI DER. */
export function fingerprintOf (key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')
}

/** A fingerprint as a person may type it (colons, spaces, capitals) in the form the API answers. */
export const normalizeFingerprint = (text: string): string => text.replace(/[\s:]/g, '').toLowerCase()

function typeOf (key: KeyObject): PublicKeyTypeName {
  const type = key.asymmetricKeyType
  if (type === 'x25519' || type === 'ed25519') return type
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    return bits >= MIN_RSA_BITS ? 'rsa' : refuse(`publicKey is an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are needed`)
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown'
    return CURVES[curve] ?? refuse(`publicKey is on curve ${curve}; P-256, P-384 or P-521 are accepted`)
  }
  return refuse(`publicKey has an unsupported type (${type ?? 'unknown'}); X25519, Ed25519, EC P-256/384/521 or RSA are accepted`)
}

function fromPem (text: string, declared: 'x25519' | 'ed25519' | undefined): PublicKeyMaterial {
  const body = PEM.exec(text.trim())?.[1]
  if (body === undefined) return refuse('publicKey must be one SPKI PEM block (-----BEGIN PUBLIC KEY-----) or a raw 32-byte key in base64')
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(body.replace(/\s/g, ''), 'base64'), format: 'der', type: 'spki' })
  } catch {
    return refuse('publicKey is not a valid SubjectPublicKeyInfo')
  }
  const keyType = typeOf(key)
  if (declared !== undefined && declared !== keyType) refuse(`publicKey is an ${keyType} key, not ${declared} as keyType says`)
  return { keyType, publicKey: key.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: fingerprintOf(key) }
}

function fromRaw (text: string, declared: 'x25519' | 'ed25519' | undefined): PublicKeyMaterial {
  const raw = Buffer.from(text, 'base64')
  if (!RAW_BASE64.test(text) || raw.length !== 32) return refuse('publicKey must be an SPKI PEM or a raw 32-byte X25519/Ed25519 key in base64')
  // An all-zero key is X25519's low-order point: every shared secret with it is zero.
  if (raw.every((byte) => byte === 0)) return refuse('publicKey is not a usable key')
  const keyType = declared ?? 'x25519'
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.concat([RAW_SPKI_PREFIX[keyType], raw]), format: 'der', type: 'spki' })
  } catch {
    return refuse(`publicKey is not a valid ${keyType} key`)
  }
  return { keyType, publicKey: raw.toString('base64'), fingerprint: fingerprintOf(key) }
}

/**
 * Checks an uploaded public key and says what it is. `declared` is the request's keyType: the
 * curve of a raw key (x25519 when absent), a check for a PEM. Throws VALIDATION_ERROR on
 * anything that is not a public key of an accepted kind (a private key PEM included).
 */
export function parsePublicKey (text: string, declared?: 'x25519' | 'ed25519'): PublicKeyMaterial {
  const trimmed = text.trim()
  return trimmed.startsWith('-----') ? fromPem(trimmed, declared) : fromRaw(trimmed, declared)
}
