/**
 * Decodes the toyworld-a bee images into tmp/gpu-data (raw RGB bytes + names) for bench/gpu.ts,
 * which runs on a GPU machine that may have no image decoder. Usage: tsx bench/gpuData.ts
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadClassImages } from "../server/neurflow/images";

const r = await loadClassImages("tests/fixtures/toyworld-a/images/bee", 64);
mkdirSync("tmp/gpu-data", { recursive: true });
writeFileSync("tmp/gpu-data/bee.u8", Uint8Array.from(r.pixels));
writeFileSync("tmp/gpu-data/names.json", JSON.stringify(r.names));
console.log(`tmp/gpu-data: ${r.names.length} images of 64×64`);
