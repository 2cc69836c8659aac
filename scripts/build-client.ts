/**
 * `npm run build:client`: writes dist/client/, the package `@parley/client` (JavaScript and
 * declarations), and dist/types/, the `@parley/types` package it depends on.
 *
 * The SDK is compiled against the generated types package, as a consumer will see it, with the
 * ES2022 library only: no DOM and no Node types, so it cannot lean on either platform beyond
 * the few globals client/src/platform.ts types itself. Any diagnostic stops the build.
 *
 * Usage: node scripts/build-client.ts [--out <dir>] [--types-out <dir>]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import ts from 'typescript'
import { buildTypes, PACKAGE_NAME as TYPES_PACKAGE } from './build-types.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLIENT_DIR = join(root, 'client')
export const PACKAGE_NAME = '@parley/client'

interface Manifest {
  name: string
  version: string
  description?: string
  dependencies?: Record<string, string>
  [field: string]: unknown
}

function compilerOptions (outDir: string, typesDir: string): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    paths: { [TYPES_PACKAGE]: [join(typesDir, 'index.d.ts')] },
    strict: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    exactOptionalPropertyTypes: false,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    declaration: true,
    sourceMap: true,
    rootDir: join(CLIENT_DIR, 'src'),
    outDir,
    newLine: ts.NewLineKind.LineFeed
  }
}

function describe (diagnostics: readonly ts.Diagnostic[]): string[] {
  return diagnostics.map((d) => {
    const where = d.file !== undefined && d.start !== undefined
      ? `${relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `
      : ''
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
  })
}

/** Builds both packages; returns the files of the client package. Throws with every diagnostic. */
export function buildClient (outDir: string, typesDir: string): string[] {
  buildTypes(typesDir)
  rmSync(outDir, { recursive: true, force: true })
  const written: string[] = []
  const host = ts.createCompilerHost(compilerOptions(outDir, typesDir))
  const writeFile = host.writeFile.bind(host)
  host.writeFile = (fileName, text, ...rest) => {
    written.push(relative(outDir, fileName))
    // Declarations keep the sources' `.ts` specifiers; consumers resolve the emitted `.js` ones.
    const output = fileName.endsWith('.d.ts') ? text.replace(/(from |import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2') : text
    writeFile(fileName, output, ...rest)
  }
  const program = ts.createProgram([join(CLIENT_DIR, 'src', 'index.ts')], compilerOptions(outDir, typesDir), host)
  const outside = program.getSourceFiles()
    .filter((file) => !file.isDeclarationFile && !file.fileName.startsWith(join(CLIENT_DIR, 'src')))
    .map((file) => relative(root, file.fileName))
  const problems = [
    ...outside.map((file) => `${file}: the SDK may import nothing outside client/src (but the ${TYPES_PACKAGE} package)`),
    ...describe(ts.getPreEmitDiagnostics(program))
  ]
  if (problems.length > 0) throw new Error(`${PACKAGE_NAME} cannot be built:\n- ${problems.join('\n- ')}`)
  const emitted = program.emit()
  if (emitted.emitSkipped || emitted.diagnostics.length > 0) throw new Error(`${PACKAGE_NAME} emit failed:\n- ${describe(emitted.diagnostics).join('\n- ')}`)

  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
  const source = JSON.parse(readFileSync(join(CLIENT_DIR, 'package.json'), 'utf8')) as Manifest
  const manifest: Manifest = {
    ...source,
    name: PACKAGE_NAME,
    version: rootManifest.version,
    main: './index.js',
    types: './index.d.ts',
    exports: { '.': { types: './index.d.ts', default: './index.js' } },
    // The SDK's only dependency, types only: the two packages are released together.
    dependencies: { [TYPES_PACKAGE]: rootManifest.version }
  }
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  written.push('package.json')
  if (existsSync(join(CLIENT_DIR, 'README.md'))) {
    copyFileSync(join(CLIENT_DIR, 'README.md'), join(outDir, 'README.md'))
    written.push('README.md')
  }
  return written.sort()
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (isMain) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'dist', 'client') },
      'types-out': { type: 'string', default: join(root, 'dist', 'types') }
    }
  })
  try {
    const outDir = resolve(values.out)
    const files = buildClient(outDir, resolve(values['types-out']))
    process.stdout.write(`${PACKAGE_NAME}: ${files.length} files written to ${relative(process.cwd(), outDir) || '.'}\n`)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    process.exitCode = 1
  }
}
