/**
 * Whether a production build (`next build`) is of the current sources: a hash of what the build
 * reads, written next to the build as a stamp. `npm run demo` (into `.next/`) and the end-to-end
 * tests (into `.next-e2e/`) rebuild only when the hash differs from the stamp.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What `next build` reads: the app's sources and the configuration. */
const INPUT_DIRS = ["app", "components", "lib", "trpc", "server", "db", "public"];
const INPUT_FILES = [
  "next.config.ts",
  "proxy.ts",
  "instrumentation.ts",
  "postcss.config.mjs",
  "tsconfig.json",
  "package.json",
  "package-lock.json",
];
/** Not part of the web bundle: the toy-world generator, and the migrations (read at run time). */
const SKIP = new Set(["server/toyworld", "db/migrations"]);
const STAMP = "neurflow-build-stamp.json";

/** A hash of the build's inputs under `root` (paths and contents). */
export function sourceHash(root: string): string {
  const h = createHash("sha256");
  const add = (rel: string) => {
    let data: Buffer;
    try {
      data = readFileSync(join(root, rel));
    } catch {
      return; // removed since it was listed (an editor's temporary file)
    }
    h.update(rel + "\0");
    h.update(data);
    h.update("\0");
  };
  const walk = (rel: string) => {
    if (SKIP.has(rel) || !existsSync(join(root, rel))) return;
    for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.isFile()) add(child);
    }
  };
  for (const d of INPUT_DIRS) walk(d);
  for (const f of INPUT_FILES) if (existsSync(join(root, f))) add(f);
  return h.digest("hex");
}

/** The hash the build in `root/distDir` was made from; null when there is no build or no stamp. */
export function builtHash(root: string, distDir: string): string | null {
  try {
    if (!existsSync(join(root, distDir, "BUILD_ID"))) return null;
    return (JSON.parse(readFileSync(join(root, distDir, STAMP), "utf8")) as { hash?: string }).hash ?? null;
  } catch {
    return null;
  }
}

/** Records that the build in `root/distDir` was made from sources with `hash` (taken before building). */
export function writeBuildStamp(root: string, distDir: string, hash: string, seconds: number): void {
  writeFileSync(join(root, distDir, STAMP), JSON.stringify({ hash, builtAt: new Date().toISOString(), seconds }));
}
