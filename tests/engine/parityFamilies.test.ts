/**
 * Parity with the authors' implementation on small torchvision-family classifiers (random weights under
 * seed 0, BatchNorm calibrated from the images, 64 px, ONNX opset 13): narrow GoogLeNet, MobileNetV2,
 * EfficientNet-B0, VGG16-BN and DenseNet121, each with a reference run recorded by the authors' code
 * (tests/fixtures/families/<name>/reference/, made as tests/fixtures/families/README.md says). Each family
 * runs with the reference preset and with the default preset against the same recorded run (on the engine's
 * onnxruntime path), and with the reference preset on its TensorFlow.js import of the model.
 */
import { describe, expect, it } from "vitest";
import type { PARITY_THRESHOLDS } from "~/server/neurflow/parity";
import { parityTests } from "./parityCase";

const root = "tests/fixtures/families";

interface Family {
  name: string;
  className: string;
  tau: number;
  layers: string[];
  /** Input elements per IG pass on the TensorFlow.js path, where the engine's default does not fit. */
  tfjsIgRowElements?: number;
  /** Thresholds of the default-preset run that differ from PARITY_THRESHOLDS. */
  defaultThresholds?: Partial<Record<keyof typeof PARITY_THRESHOLDS, number>>;
}

const FAMILIES: Family[] = [
  { name: "googlenet", className: "c5", tau: 4, layers: ["fc", "inception5b", "inception5a", "inception4e"] },
  // MobileNetV2's ReLU6 makes the integrand rough (features.16 target 26: completeness error 23 % at 16
  // nodes, 6.9 % at 50): the default preset's decision rule sends such targets to 50 nodes because their
  // edge weights move with the 8-node estimate, so the default preset meets the same thresholds.
  {
    name: "mobilenet_v2",
    className: "c8",
    tau: 4,
    layers: ["classifier", "features.17", "features.16", "features.15"],
  },
  {
    name: "efficientnet_b0",
    className: "c2",
    tau: 4,
    layers: ["classifier", "features.8", "features.7", "features.6"],
  },
  { name: "vgg16_bn", className: "c6", tau: 4, layers: ["classifier", "features.42", "features.39", "features.36"] },
  // transitions, not dense blocks: a dense block's output begins with its input's channels, whose targets
  // have exactly one non-zero lower neuron, so the rest of the core set is a tie at 0 (torch.topk and the
  // engine order it differently; see the fixture README)
  {
    name: "densenet121",
    className: "c0",
    tau: 4,
    layers: ["classifier", "features.transition3", "features.transition2"],
    // On the TensorFlow.js wasm backend the engine's default IG batch (2^22 input elements: 2048 rows of the
    // 4×4×128 transition2 map) backpropagates through dense block 3's 24 concatenating layers and fails
    // with a wasm "RuntimeError: divide by zero" in _register_tensor (the 4 GB wasm heap, it seems: 4.4 GB peak
    // RSS at the failure, 1.4 GB at 2^20); the
    // onnxruntime path runs it at the default. 2^18 elements (128 rows) runs and reaches parity.
    tfjsIgRowElements: 2 ** 18,
  },
];

// the engine's onnxruntime path with both presets, and its TensorFlow.js import of the ONNX model with the reference preset
const RUNS = [
  { preset: "reference", onnxRuntime: true, label: "reference preset" },
  { preset: "default", onnxRuntime: true, label: "default preset" },
  { preset: "reference", onnxRuntime: false, label: "reference preset, TensorFlow.js" },
] as const;

for (const f of FAMILIES) {
  const dir = `${root}/${f.name}`;
  for (const r of RUNS) {
    describe(`parity with the reference implementation (${f.name}, ${f.className}, τ ${f.tau}, ${r.label})`, () => {
      const run = parityTests({
        dir,
        className: f.className,
        tau: f.tau,
        reference: `reference/${f.className}-tau${f.tau}.json.gz`,
        layers: f.layers,
        preset: r.preset,
        onnxRuntime: r.onnxRuntime,
        igRowElements: r.onnxRuntime ? undefined : f.tfjsIgRowElements,
        thresholds: r.preset === "default" ? f.defaultThresholds : undefined,
      });

      it(`runs on ${r.onnxRuntime ? "onnxruntime" : "TensorFlow.js alone"}`, () => {
        expect(run.circuit().params.backend?.includes("onnxruntime")).toBe(r.onnxRuntime);
      });
    });
  }
}
