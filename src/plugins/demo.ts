import fp from 'fastify-plugin'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../lib/app-error.ts'
import type * as DemoBuild from '../../scripts/build-demo.ts'

export interface DemoPluginOptions {
  apiPrefix: string
  wsPath: string
}

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))
// The sources run as .ts (type stripping); a compiled build (dist/app) has .js files.
const DEMO_BUILD = new URL(`../../scripts/build-demo.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href

interface Asset {
  contentType: string
  body: string
  etag: string
}

const assetOf = (contentType: string, body: string): Asset => ({
  contentType,
  body,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
})

/**
 * SERVE_DEMO: the demo chat app of web/ at `/`, its bundle at /demo/app.js and /demo/app.css.
 * The bundle is built in memory by esbuild (a development dependency) at the first request and
 * kept. A build without web/ beside it (the production image, dist/app) serves no demo.
 */
export default fp<DemoPluginOptions>(async function demoPlugin (fastify, opts) {
  if (!existsSync(join(WEB_DIR, 'index.html'))) {
    fastify.log.warn({ webDir: WEB_DIR }, 'SERVE_DEMO is on, but there is no web/ beside this build: the demo is not served')
    return
  }
  // Loaded lazily, with esbuild, the first time the demo is asked for.
  let assets: Promise<Map<string, Asset>> | null = null
  const load = async (): Promise<Map<string, Asset>> => {
    assets ??= (async () => {
      const { bundleDemo, demoPage } = await import(DEMO_BUILD) as typeof DemoBuild
      const files = await bundleDemo()
      const map = new Map<string, Asset>([...files].map(([name, file]) => [name, assetOf(file.contentType, file.body)]))
      map.set('index.html', assetOf('text/html; charset=utf-8', demoPage({ baseUrl: '', apiPrefix: opts.apiPrefix, wsPath: opts.wsPath })))
      return map
    })().catch((err: unknown) => {
      assets = null
      throw err
    })
    return await assets
  }

  async function serve (name: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const asset = (await load()).get(name)
    if (asset === undefined) throw new AppError('NOT_FOUND', `${request.url} does not exist`)
    void reply.header('cache-control', 'no-cache').header('etag', asset.etag)
    if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.type(asset.contentType).send(asset.body)
  }

  // Static files served from memory: no per-user rate limit.
  const config = { rateLimit: false as const }
  fastify.get('/', { config, schema: { hide: true } }, async (request, reply) => await serve('index.html', request, reply))
  fastify.get('/demo/:file', { config, schema: { hide: true } }, async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    return await serve(request.params.file, request, reply)
  })
}, { name: 'demo' })
