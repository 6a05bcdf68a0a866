/**
 * Draws evaluation results (JSON from `neurflow optimality | fidelity-neurons | fidelity-weights
 * --out`) with the platform's own plot components, as SVG and PNG files for the docs:
 *   npx tsx scripts/evaluationFigures.ts --out docs/images/eval [--optimality R.json]
 *        [--fidelity-neurons R.json] [--fidelity-weights R.json]
 * Writes <out>-optimality.svg/.png and so on.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import sharp from "sharp";
import { FidelityOfNeuronsPlot, FidelityOfWeightsPlot, OptimalityPlot } from "~/components/evaluations/plots";

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    optimality: { type: "string" },
    "fidelity-neurons": { type: "string" },
    "fidelity-weights": { type: "string" },
  },
  strict: true,
});
if (!values.out) throw new Error("--out is required (a path prefix, e.g. docs/images/eval)");
const plots = [
  ["optimality", values.optimality, OptimalityPlot],
  ["fidelity-neurons", values["fidelity-neurons"], FidelityOfNeuronsPlot],
  ["fidelity-weights", values["fidelity-weights"], FidelityOfWeightsPlot],
] as const;
for (const [name, file, Plot] of plots) {
  if (!file) continue;
  const result = JSON.parse(readFileSync(file, "utf8"));
  const markup = renderToStaticMarkup(
    createElement(Plot as (p: { result: unknown }) => ReturnType<typeof OptimalityPlot>, { result }),
  );
  const svg = markup.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  writeFileSync(`${values.out}-${name}.svg`, svg);
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(`${values.out}-${name}.png`);
  console.log(`wrote ${values.out}-${name}.svg and .png`);
}
