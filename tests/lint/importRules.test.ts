import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkClientImports } from "~/scripts/checkImports";

const ROOT = join(import.meta.dirname, "..", "..");

describe("browser code and server/ (scripts/checkImports.ts)", () => {
  const root = mkdtempSync(join(tmpdir(), "neurflow-imports-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  write("server/circuits/svg.ts", "export const NODE_SIZE = 64;\nexport type Graph = { n: number };\n");
  write("server/api/appContext.ts", 'import "server-only";\nexport const db = 1;\n');
  write("trpc/server.ts", 'import "server-only";\nexport const api = 1;\n');
  write("lib/circuits/svg.ts", "export const NODE_SIZE = 64;\n");

  it("allows type-only imports from server/ and runtime imports from lib/", () => {
    write(
      "components/Good.tsx",
      [
        '"use client";',
        'import type { Graph } from "~/server/circuits/svg";',
        'import { type Graph as G2 } from "../server/circuits/svg";',
        'import { NODE_SIZE } from "~/lib/circuits/svg";',
        "export const x: Graph | G2 | number = NODE_SIZE;",
      ].join("\n"),
    );
    expect(checkClientImports(root)).toEqual([]);
  });

  it("catches runtime imports, re-exports and import() from server/ or a server-only module", () => {
    write(
      "components/Bad.tsx",
      '"use client";\nimport { NODE_SIZE } from "~/server/circuits/svg";\nexport const x = NODE_SIZE;\n',
    );
    write("lib/reexport.ts", 'export { NODE_SIZE } from "../server/circuits/svg";\n');
    write("app/widget.tsx", '"use client";\nexport const load = () => import("~/trpc/server");\n');
    write("app/page.tsx", 'import { api } from "~/trpc/server";\nexport default api;\n'); // a server component: allowed
    const found = checkClientImports(root).map((v) => `${v.file}:${v.line} ${v.specifier}`);
    expect(found).toEqual([
      "app/widget.tsx:2 ~/trpc/server",
      "components/Bad.tsx:2 ~/server/circuits/svg",
      "lib/reexport.ts:1 ../server/circuits/svg",
    ]);
  });

  it("passes on this repository", () => {
    expect(checkClientImports(ROOT)).toEqual([]);
  });
});

describe("the engine's entries (biome.json noRestrictedImports)", () => {
  // Biome with this repository's biome.json, on files laid out like the repository's in a scratch folder
  const root = mkdtempSync(join(tmpdir(), "neurflow-biome-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  copyFileSync(join(ROOT, "biome.json"), join(root, "biome.json"));
  const lint = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
    const r = spawnSync(
      join(ROOT, "node_modules", ".bin", "biome"),
      ["lint", "--vcs-enabled=false", "--colors=off", rel],
      { cwd: root, encoding: "utf8" },
    );
    return {
      status: r.status,
      restricted: (r.stdout + r.stderr).match(/lint\/style\/noRestrictedImports/g)?.length ?? 0,
    };
  };

  it("catches deep imports into server/neurflow/ from platform code, static and dynamic", () => {
    expect(
      lint(
        "server/evaluations/deep.ts",
        'import { tf } from "~/server/neurflow/tf";\nexport const m = () => import("../neurflow/masking");\nexport { tf };\n',
      ),
    ).toEqual({ status: 1, restricted: 2 });
    expect(
      lint(
        "components/Deep.tsx",
        'import type { Circuit } from "~/server/neurflow/circuitFormat";\nexport type C = Circuit;\n',
      ),
    ).toEqual({ status: 1, restricted: 1 });
  });

  it("catches deep imports from the tests outside tests/engine/", () => {
    for (const file of ["tests/integration/deep.test.ts", "tests/helpers/deep.ts", "tests/toyworld/deep.test.ts"]) {
      expect(
        lint(
          file,
          'import { tf } from "~/server/neurflow/tf";\nexport const m = () => import("~/server/neurflow/masking");\nexport { tf };\n',
        ),
        file,
      ).toEqual({ status: 1, restricted: 2 });
    }
    expect(
      lint(
        "tests/e2e/deep.test.ts",
        'import type { Circuit } from "~/server/neurflow/circuitFormat";\nexport type C = Circuit;\n',
      ),
    ).toEqual({ status: 1, restricted: 1 });
  });

  it("allows the entries, and deep imports inside the engine and in its tests", () => {
    expect(
      lint(
        "server/evaluations/entry.ts",
        'import { tf } from "~/server/neurflow";\nimport { parseCircuit } from "~/server/neurflow/light";\nexport { tf, parseCircuit };\n',
      ),
    ).toEqual({ status: 0, restricted: 0 });
    expect(lint("server/neurflow/inside.ts", 'import { tf } from "./tf";\nexport { tf };\n')).toEqual({
      status: 0,
      restricted: 0,
    });
    expect(
      lint("tests/engine/deep.test.ts", 'import { tf } from "../../server/neurflow/tf";\nexport { tf };\n'),
    ).toEqual({ status: 0, restricted: 0 });
    expect(
      lint("tests/integration/entry.test.ts", 'import { tf } from "~/server/neurflow";\nexport { tf };\n'),
    ).toEqual({ status: 0, restricted: 0 });
  });
});
