/**
 * ONNX conformance of the importer: runs every case of the ONNX project's backend node tests whose
 * ops the importer claims (its table of ops, model/onnx/ops.ts) and prints per case PASS, FAIL
 * (with the largest error) or REFUSED (with the importer's message); cases with other ops are
 * listed as not claimed. See bench/onnxConformanceCase.ts for how a case is run and compared.
 *
 * Usage: npx tsx bench/onnxConformance.ts DIR [--only SUBSTRING] [--quiet]
 * DIR is a folder of case folders, e.g. /usr/share/libonnx-testdata/data/node (Debian's
 * libonnx-testdata). Exits with status 1 when a claimed case fails.
 */
import { join } from "node:path";
import { initBackend } from "../server/neurflow/backend";
import { type CaseResult, listCases, runCase, ATOL, RTOL } from "./onnxConformanceCase";

const args = process.argv.slice(2);
const root = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--only");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const quiet = args.includes("--quiet");
if (!root) {
  console.error("usage: npx tsx bench/onnxConformance.ts DIR [--only SUBSTRING] [--quiet]");
  process.exit(2);
}

const backend = await initBackend();
const cases = listCases(root).filter((c) => !only || c.includes(only));
console.log(`${cases.length} cases in ${root}; backend ${backend.name}; rtol ${RTOL}, atol ${ATOL}`);

const results: CaseResult[] = [];
for (const c of cases) {
  const r = runCase(join(root, c), { name: c });
  results.push(r);
  if (r.status === "pass") {
    if (!quiet) console.log(`PASS     ${c} (${r.ops.join(", ")}) max |err| ${r.maxError!.toExponential(1)}`);
  } else if (r.status === "fail") {
    const err = r.maxError !== undefined ? ` max |err| ${r.maxError.toExponential(2)}:` : "";
    console.log(`FAIL     ${c} (${r.ops.join(", ")})${err} ${r.message}`);
  } else if (r.status === "refused") {
    if (!quiet) console.log(`REFUSED  ${c} (${r.ops.join(", ")}): ${r.message}`);
  }
}

const by = (s: CaseResult["status"]) => results.filter((r) => r.status === s);
const notClaimed = by("not claimed");
if (!quiet) {
  const unclaimedOps = new Map<string, number>();
  for (const r of notClaimed) for (const o of r.unclaimed) unclaimedOps.set(o, (unclaimedOps.get(o) ?? 0) + 1);
  console.log(`\nnot claimed (${notClaimed.length} cases), by op not in the importer's table:`);
  console.log(
    [...unclaimedOps.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([o, n]) => `${o} ${n}`)
      .join(", "),
  );
}
const claimed = results.length - notClaimed.length;
console.log(
  `\nsummary: ${results.length} cases, ${claimed} claimed: ${by("pass").length} passed, ${by("refused").length} refused, ${by("fail").length} failed; ${notClaimed.length} not claimed`,
);
process.exitCode = by("fail").length ? 1 : 0;
