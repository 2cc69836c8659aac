import fp from 'fastify-plugin'
import { createKeyring, MASTER_KEY_BYTES, type Keyring } from '../lib/keyring.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Encryption at rest and blind search tokens, per group (DESIGN §6). */
    keyring: Keyring
  }
}

export interface CryptoPluginOptions {
  /** ENCRYPTION_MASTER_KEY, 32 bytes. */
  masterKey: Buffer
}

/** The keyring over the app's database; its key cache lives as long as the app. */
export default fp<CryptoPluginOptions>(async function cryptoPlugin (fastify, opts) {
  if (!Buffer.isBuffer(opts.masterKey) || opts.masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`crypto plugin: masterKey must be ${MASTER_KEY_BYTES} bytes`)
  }
  fastify.decorate('keyring', createKeyring({ db: fastify.db, masterKey: opts.masterKey }))
}, { name: 'crypto', dependencies: ['db'] })
