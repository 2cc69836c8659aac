/**
 * The demo chat app (web/) bundled with esbuild: `app.js` (the app and @parley/client) and
 * `app.css`, beside `index.html`. The server bundles it in memory when SERVE_DEMO is on
 * (src/plugins/demo.ts); `npm run build:demo` writes the same files to dist/web/ for hosting
 * them elsewhere: the page talks to the origin it is served from, or to `--base-url` (a
 * Parley whose CORS_ORIGINS lets that page in).
 *
 * Usage: node scripts/build-demo.ts [--out <dir>] [--base-url <https://parley.example.com>]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const WEB_DIR = join(root, 'web')

export interface DemoFile {
  contentType: string
  body: string
}

/** Where the page finds the API; written into index.html's meta tags. */
export interface DemoSettings {
  /** The server's origin; empty for the origin the page is served from. */
  baseUrl: string
  apiPrefix: string
  wsPath: string
}

const escapeAttribute = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

/** index.html with the API's paths in its meta tags. */
export function demoPage (settings: DemoSettings): string {
  return readFileSync(join(WEB_DIR, 'index.html'), 'utf8')
    .replaceAll('%BASE_URL%', escapeAttribute(settings.baseUrl))
    .replaceAll('%API_PREFIX%', escapeAttribute(settings.apiPrefix))
    .replaceAll('%WS_PATH%', escapeAttribute(settings.wsPath))
}

/** Bundles web/src/main.ts (and the CSS it imports); the files by name. */
export async function bundleDemo (options: { minify?: boolean } = {}): Promise<Map<string, DemoFile>> {
  // esbuild is a development dependency: loaded only when the demo is built.
  const esbuild = await import('esbuild')
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: join(WEB_DIR, 'src', 'main.ts') },
    tsconfig: join(WEB_DIR, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    outdir: join(root, 'dist', 'web'),
    write: false,
    logLevel: 'silent'
  })
  const files = new Map<string, DemoFile>()
  for (const file of result.outputFiles) {
    const name = relative(join(root, 'dist', 'web'), file.path)
    files.set(name, { contentType: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8', body: file.text })
  }
  return files
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (isMain) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist', 'web') }, 'base-url': { type: 'string', default: '' } } })
  try {
    const outDir = resolve(values.out)
    const files = await bundleDemo()
    rmSync(outDir, { recursive: true, force: true })
    mkdirSync(outDir, { recursive: true })
    // index.html loads demo/app.js and demo/app.css, as the server serves them.
    mkdirSync(join(outDir, 'demo'), { recursive: true })
    for (const [name, file] of files) writeFileSync(join(outDir, 'demo', name), file.body)
    writeFileSync(join(outDir, 'index.html'), demoPage({ baseUrl: values['base-url'], apiPrefix: '/mirror/api', wsPath: '/mirror/groups/chat' }))
    process.stdout.write(`demo: ${files.size + 1} files written to ${relative(process.cwd(), outDir) || '.'}\n`)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    process.exitCode = 1
  }
}
