/**
 * The import rule Biome cannot express: code that runs in the browser — everything under
 * `components/` and `lib/`, and any file starting with "use client" — imports no runtime code from
 * `server/` nor from a module marked `import "server-only"` (type-only imports are erased and
 * allowed). Run by `npm run lint`; Biome's `noRestrictedImports` (biome.json) checks the other rule,
 * no deep imports into `server/neurflow/`. Usage: `tsx scripts/checkImports.ts [root]`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

export interface ImportViolation {
  file: string;
  line: number;
  specifier: string;
  reason: string;
}

const SOURCE = /\.(ts|tsx)$/;
const CLIENT_DIRS = ["components", "lib"];
const SCANNED_DIRS = ["app", "components", "lib", "trpc"];

function walk(root: string, dir: string, out: string[]): void {
  const abs = join(root, dir);
  if (!existsSync(abs)) return;
  for (const name of readdirSync(abs)) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) walk(root, rel, out);
    else if (SOURCE.test(name)) out.push(rel);
  }
}

function isClientFile(rel: string, source: ts.SourceFile): boolean {
  if (CLIENT_DIRS.some((d) => rel === d || rel.startsWith(d + sep))) return true;
  const first = source.statements[0];
  return (
    !!first &&
    ts.isExpressionStatement(first) &&
    ts.isStringLiteral(first.expression) &&
    first.expression.text === "use client"
  );
}

/** The repository file a specifier names (`~/` is the root), or null for a package. */
function resolveSpecifier(root: string, from: string, specifier: string): string | null {
  let base: string;
  if (specifier.startsWith("~/")) base = join(root, specifier.slice(2));
  else if (specifier.startsWith(".")) base = resolve(root, dirname(from), specifier);
  else return null;
  const stripped = base.replace(/\.(js|ts|tsx)$/, "");
  for (const c of [stripped + ".ts", stripped + ".tsx", join(stripped, "index.ts"), join(stripped, "index.tsx")])
    if (existsSync(c)) return c;
  return base;
}

function marksServerOnly(file: string): boolean {
  if (!existsSync(file) || !statSync(file).isFile()) return false;
  return /^\s*import\s+["']server-only["'];?\s*$/m.test(readFileSync(file, "utf8"));
}

/** The runtime (not type-only) imports of a file: static imports and re-exports, and import() calls. */
function runtimeImports(source: ts.SourceFile): { specifier: string; pos: number }[] {
  const found: { specifier: string; pos: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) found.push({ specifier: node.moduleSpecifier.text, pos: node.getStart(source) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (!!node.exportClause &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push({ specifier: node.moduleSpecifier.text, pos: node.getStart(source) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) found.push({ specifier: arg.text, pos: node.getStart(source) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every runtime import from browser code into `server/` or into a `server-only` module, under `root`. */
export function checkClientImports(root: string): ImportViolation[] {
  const files: string[] = [];
  for (const d of SCANNED_DIRS) walk(root, d, files);
  const serverDir = join(root, "server") + sep;
  const violations: ImportViolation[] = [];
  for (const rel of files.sort()) {
    const text = readFileSync(join(root, rel), "utf8");
    const source = ts.createSourceFile(
      rel,
      text,
      ts.ScriptTarget.Latest,
      true,
      rel.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
    );
    if (!isClientFile(rel, source)) continue;
    for (const { specifier, pos } of runtimeImports(source)) {
      const target = resolveSpecifier(root, rel, specifier);
      if (!target) continue;
      const reason = target.startsWith(serverDir)
        ? "browser code imports runtime code from server/ (move what both sides use to lib/, or import only types)"
        : marksServerOnly(target)
          ? `browser code imports a server-only module (${relative(root, target)})`
          : null;
      if (reason)
        violations.push({ file: rel, line: source.getLineAndCharacterOfPosition(pos).line + 1, specifier, reason });
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(process.argv[2] ?? join(import.meta.dirname, ".."));
  const violations = checkClientImports(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: "${v.specifier}": ${v.reason}`);
  if (violations.length > 0) {
    console.error(`checkImports: ${violations.length} import(s) break the browser/server rule (docs/platform.md)`);
    process.exit(1);
  }
  console.log("checkImports: browser code imports nothing of server/ at run time");
}
