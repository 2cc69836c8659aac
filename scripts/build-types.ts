/**
 * `npm run build:types`: writes dist/types/, the types-only package `@parley/types`.
 *
 * Every exported type alias and interface of every file in schemas/ is printed structurally by
 * the TypeScript checker, so `Static<typeof X>` becomes the plain object type it stands for and
 * the package needs neither TypeBox nor any other dependency. New schema files and new exports
 * are picked up as they appear. The result is compiled on its own before it is written: a type
 * that cannot stand alone stops the build with the reason.
 *
 * Usage: node scripts/build-types.ts [--out <dir>]
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SCHEMAS_DIR = join(root, 'schemas')
export const PACKAGE_NAME = '@parley/types'

const BUILDER_FLAGS = ts.NodeBuilderFlags.NoTruncation |
  ts.NodeBuilderFlags.InTypeAlias |
  ts.NodeBuilderFlags.MultilineObjectLiterals |
  ts.NodeBuilderFlags.UseSingleQuotesForStringLiteralType

/** Every .ts file under schemas/, in a stable order. */
function schemaFiles (dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...schemaFiles(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path)
  }
  return files.sort()
}

function compilerOptions (): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json')
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')) }
  })
  if (parsed === undefined) throw new Error('cannot read tsconfig.json')
  return { ...parsed.options, noEmit: true }
}

interface Printed {
  name: string
  file: string
  text: string
}

class TypePrinter {
  readonly checker: ts.TypeChecker
  readonly printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed })
  readonly out = ts.createSourceFile('index.d.ts', '', ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  readonly problems: string[] = []

  constructor (checker: ts.TypeChecker) {
    this.checker = checker
  }

  typeNode (type: ts.Type, at: ts.Node, where: string): ts.TypeNode {
    const node = this.checker.typeToTypeNode(type, at, BUILDER_FLAGS)
    if (node === undefined) {
      this.problems.push(`${where}: the checker cannot print this type`)
      return ts.factory.createKeywordTypeNode(ts.SyntaxKind.UnknownKeyword)
    }
    return node
  }

  typeParameters (declaration: ts.TypeAliasDeclaration | ts.InterfaceDeclaration, where: string): ts.TypeParameterDeclaration[] | undefined {
    return declaration.typeParameters?.map((parameter) => ts.factory.createTypeParameterDeclaration(
      undefined,
      parameter.name.text,
      parameter.constraint === undefined ? undefined : this.typeNode(this.checker.getTypeFromTypeNode(parameter.constraint), declaration, where),
      parameter.default === undefined ? undefined : this.typeNode(this.checker.getTypeFromTypeNode(parameter.default), declaration, where)
    ))
  }

  /** `export type X<T> = <the type, expanded>` */
  alias (symbol: ts.Symbol, declaration: ts.TypeAliasDeclaration): ts.TypeAliasDeclaration {
    const where = `${symbol.name} (${relative(root, declaration.getSourceFile().fileName)})`
    return ts.factory.createTypeAliasDeclaration(
      [ts.factory.createModifier(ts.SyntaxKind.ExportKeyword)],
      symbol.name,
      this.typeParameters(declaration, where),
      this.typeNode(this.checker.getDeclaredTypeOfSymbol(symbol), declaration, where)
    )
  }

  /** `export interface X<T> { … }`, its members (inherited ones included) expanded one by one. */
  interface (symbol: ts.Symbol, declaration: ts.InterfaceDeclaration): ts.InterfaceDeclaration {
    const where = `${symbol.name} (${relative(root, declaration.getSourceFile().fileName)})`
    const type = this.checker.getDeclaredTypeOfSymbol(symbol)
    const members: ts.TypeElement[] = []
    for (const info of this.checker.getIndexInfosOfType(type)) {
      const signature = this.checker.indexInfoToIndexSignatureDeclaration(info, declaration, BUILDER_FLAGS)
      if (signature !== undefined) members.push(signature)
    }
    for (const property of this.checker.getPropertiesOfType(type)) {
      const propertyDeclaration = property.valueDeclaration ?? property.declarations?.[0]
      const readonly = propertyDeclaration !== undefined && ts.getCombinedModifierFlags(propertyDeclaration) & ts.ModifierFlags.Readonly
      const optional = (property.flags & ts.SymbolFlags.Optional) !== 0
      const member = ts.factory.createPropertySignature(
        readonly !== 0 && readonly !== undefined ? [ts.factory.createModifier(ts.SyntaxKind.ReadonlyKeyword)] : undefined,
        /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(property.name) ? property.name : ts.factory.createStringLiteral(property.name, true),
        optional ? ts.factory.createToken(ts.SyntaxKind.QuestionToken) : undefined,
        this.typeNode(this.checker.getTypeOfSymbol(property), declaration, `${where}.${property.name}`)
      )
      const docs = docsOf(property)
      members.push(docs.length > 0 ? withDocComment(member, docs) : member)
    }
    for (const signature of type.getCallSignatures()) {
      const node = this.checker.signatureToSignatureDeclaration(signature, ts.SyntaxKind.CallSignature, declaration, BUILDER_FLAGS)
      if (node !== undefined) members.push(node as ts.CallSignatureDeclaration)
    }
    return ts.factory.createInterfaceDeclaration(
      [ts.factory.createModifier(ts.SyntaxKind.ExportKeyword)],
      symbol.name,
      this.typeParameters(declaration, where),
      undefined,
      members
    )
  }

  print (node: ts.Node, docs: string): string {
    return this.printer.printNode(ts.EmitHint.Unspecified, docs.length > 0 ? withDocComment(node, docs) : node, this.out)
  }
}

/** A declaration's JSDoc as written (tags such as `@mention` in prose included), without the `/** *\/` frame. */
function docsOf (symbol: ts.Symbol): string {
  for (const declaration of symbol.declarations ?? []) {
    const jsDoc = ts.getJSDocCommentsAndTags(declaration).filter(ts.isJSDoc).at(-1)
    if (jsDoc === undefined) continue
    const text = jsDoc.getSourceFile().text.slice(jsDoc.getStart(), jsDoc.end)
    return text.replace(/^\/\*\*\s*/, '').replace(/\s*\*\/$/, '')
      .split('\n').map((line) => line.replace(/^\s*\* ?/, '')).join('\n').trim()
  }
  return ''
}

function withDocComment<T extends ts.Node> (node: T, docs: string): T {
  const body = docs.split('\n').map((line) => ` * ${line}`.trimEnd()).join('\n')
  return ts.addSyntheticLeadingComment(node, ts.SyntaxKind.MultiLineCommentTrivia, `*\n${body}\n `, true)
}

interface Declared {
  name: string
  file: string
  docs: string
  node: ts.TypeAliasDeclaration | ts.InterfaceDeclaration
}

/** A type node as one line, the key under which identical shapes meet. */
function shapeKey (printer: TypePrinter, node: ts.TypeNode): string {
  return printer.print(node, '').replace(/\s+/g, ' ')
}

/**
 * Exported shapes worth naming where they recur: object types of three members or more (or
 * of a long spelling) and unions of three or more, each the shape of exactly one exported name.
 * Small shapes such as `{ groupId: string }` stay spelled out: naming them would mislead.
 */
function namedShapes (printer: TypePrinter, declared: Declared[]): Map<string, string> {
  const shapes = new Map<string, string>()
  const ambiguous = new Set<string>()
  for (const { name, node } of declared) {
    if (!ts.isTypeAliasDeclaration(node) || node.typeParameters !== undefined) continue
    const type = node.type
    if (!ts.isTypeLiteralNode(type) && !ts.isUnionTypeNode(type)) continue
    const key = shapeKey(printer, type)
    const large = ts.isTypeLiteralNode(type) ? type.members.length >= 3 || key.length >= 50 : type.types.length >= 3
    if (!large) continue
    if (shapes.has(key)) ambiguous.add(key)
    shapes.set(key, name)
  }
  for (const key of ambiguous) shapes.delete(key)
  return shapes
}

const isNullish = (node: ts.TypeNode): boolean =>
  node.kind === ts.SyntaxKind.UndefinedKeyword || (ts.isLiteralTypeNode(node) && node.literal.kind === ts.SyntaxKind.NullKeyword)

/**
 * Replaces a nested shape identical to an exported type by that type's name, so that
 * `messages` reads `ChatMessage[]` rather than the message spelled out again. The types stay
 * the same; only their spelling gets shorter.
 */
function nameRecurringShapes (printer: TypePrinter, shapes: Map<string, string>, self: string, node: ts.TypeNode): ts.TypeNode {
  const nameOf = (candidate: ts.TypeNode): string | undefined => {
    const name = shapes.get(shapeKey(printer, candidate))
    return name === self ? undefined : name
  }
  const visit = (child: ts.Node): ts.Node => {
    if (ts.isTypeLiteralNode(child) || ts.isUnionTypeNode(child)) {
      const name = nameOf(child)
      if (name !== undefined) return ts.factory.createTypeReferenceNode(name)
      if (ts.isUnionTypeNode(child)) {
        // `'a' | 'b' | 'c' | undefined` is an optional property of a named union.
        const rest = child.types.filter((t) => !isNullish(t))
        const restName = rest.length >= 2 && rest.length < child.types.length ? nameOf(ts.factory.createUnionTypeNode(rest)) : undefined
        if (restName !== undefined) {
          return ts.factory.createUnionTypeNode([ts.factory.createTypeReferenceNode(restName), ...child.types.filter(isNullish)])
        }
      }
    }
    return ts.visitEachChild(child, visit, undefined)
  }
  return ts.visitEachChild(node, visit, undefined)
}

function withNamedShapes (printer: TypePrinter, shapes: Map<string, string>, { name, node }: Declared): ts.TypeAliasDeclaration | ts.InterfaceDeclaration {
  if (ts.isTypeAliasDeclaration(node)) {
    return ts.factory.updateTypeAliasDeclaration(node, node.modifiers, node.name, node.typeParameters, nameRecurringShapes(printer, shapes, name, node.type))
  }
  const members = node.members.map((member) => ts.isPropertySignature(member) && member.type !== undefined
    ? ts.factory.updatePropertySignature(member, member.modifiers, member.name, member.questionToken, nameRecurringShapes(printer, shapes, name, member.type))
    : member)
  return ts.factory.updateInterfaceDeclaration(node, node.modifiers, node.name, node.typeParameters, node.heritageClauses, members)
}

/** The exported types of the schema files, each printed structurally. */
function printSchemaTypes (files: string[]): { printed: Printed[], problems: string[] } {
  const program = ts.createProgram(files, compilerOptions())
  const checker = program.getTypeChecker()
  const printer = new TypePrinter(checker)
  const declared: Declared[] = []
  const seen = new Map<string, Declared>()

  for (const file of files) {
    const source = program.getSourceFile(file)
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    if (module === undefined) continue
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = (exported.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(exported) : exported
      if ((symbol.flags & (ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Interface)) === 0) continue
      const declaration = symbol.declarations?.find((d) => ts.isTypeAliasDeclaration(d) || ts.isInterfaceDeclaration(d))
      if (declaration === undefined) continue
      const node = ts.isInterfaceDeclaration(declaration) ? printer.interface(symbol, declaration) : printer.alias(symbol, declaration as ts.TypeAliasDeclaration)
      const entry: Declared = { name: exported.name, file: relative(root, file), docs: docsOf(symbol), node }
      const earlier = seen.get(entry.name)
      if (earlier !== undefined) {
        // The same type re-exported elsewhere is printed once; two different types under one name are an error.
        if (printer.print(earlier.node, '') !== printer.print(entry.node, '')) {
          printer.problems.push(`${entry.name} is exported by both ${earlier.file} and ${entry.file} with different shapes`)
        }
        continue
      }
      seen.set(entry.name, entry)
      declared.push(entry)
    }
  }

  const shapes = namedShapes(printer, declared)
  const printed = declared.map((entry) => ({
    name: entry.name,
    file: entry.file,
    text: printer.print(withNamedShapes(printer, shapes, entry), entry.docs)
  }))
  return { printed, problems: printer.problems }
}

/** Compiles the declaration file alone, as a consumer would: it must need nothing else. */
function standaloneDiagnostics (dts: string): string[] {
  const fileName = '/virtual/@parley/types/index.d.ts'
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts'], types: [], skipLibCheck: false }
  const host = ts.createCompilerHost(options)
  const readFile = host.readFile.bind(host)
  const getSourceFile = host.getSourceFile.bind(host)
  host.readFile = (name) => name === fileName ? dts : readFile(name)
  host.fileExists = (name) => name === fileName || ts.sys.fileExists(name)
  host.getSourceFile = (name, version) => name === fileName ? ts.createSourceFile(name, dts, version) : getSourceFile(name, version)
  const program = ts.createProgram([fileName], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file !== undefined && d.start !== undefined ? `index.d.ts:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
  })
}

/** Builds the package into `outDir`; returns the exported names. Throws with every problem found. */
export function buildTypes (outDir: string): string[] {
  const { printed, problems } = printSchemaTypes(schemaFiles(SCHEMAS_DIR))
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  const sections: string[] = [
    `// ${PACKAGE_NAME} ${rootPackage.version}: the REST and WebSocket types of the Parley API.`,
    '// Generated by scripts/build-types.ts from schemas/; do not edit.',
    ''
  ]
  let lastFile = ''
  for (const entry of printed) {
    if (entry.file !== lastFile) {
      sections.push(`// ---- ${entry.file} ----`, '')
      lastFile = entry.file
    }
    sections.push(entry.text, '')
  }
  const dts = sections.join('\n')
  problems.push(...standaloneDiagnostics(dts))
  if (problems.length > 0) throw new Error(`The types package cannot be built:\n- ${problems.join('\n- ')}`)

  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, 'index.d.ts'), dts)
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({
    name: PACKAGE_NAME,
    version: rootPackage.version,
    description: 'TypeScript types of the Parley chat API (REST and WebSocket). Types only: no runtime code.',
    types: './index.d.ts',
    exports: { '.': { types: './index.d.ts' } },
    sideEffects: false
  }, null, 2) + '\n')
  return printed.map((entry) => entry.name)
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (isMain) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist', 'types') } } })
  try {
    const outDir = resolve(values.out)
    const names = buildTypes(outDir)
    process.stdout.write(`${PACKAGE_NAME}: ${names.length} types written to ${relative(process.cwd(), outDir) || '.'}\n`)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    process.exitCode = 1
  }
}
