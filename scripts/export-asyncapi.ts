/**
 * `node scripts/export-asyncapi.ts [path]`: writes the AsyncAPI 3 document of the WebSocket
 * protocol (the one /asyncapi.json serves) to dist/asyncapi.json or the given path.
 * WS_PATH is read as the service reads it; nothing else is needed (no database, no Redis).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import envSchema from 'env-schema'
import { Type } from '@sinclair/typebox'
import { Environment } from '../src/config.ts'
import { buildAsyncApiDocument } from '../src/realtime/asyncapi.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const target = resolve(process.argv[2] ?? resolve(root, 'dist/asyncapi.json'))
const { WS_PATH } = envSchema<{ WS_PATH: string }>({ schema: Type.Pick(Environment, ['WS_PATH']), data: process.env, env: false })

mkdirSync(dirname(target), { recursive: true })
writeFileSync(target, JSON.stringify(buildAsyncApiDocument({ wsPath: WS_PATH }), null, 2) + '\n')
process.stdout.write(`AsyncAPI document written to ${target}\n`)
