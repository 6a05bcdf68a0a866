/**
 * Parity with the authors' implementation on small torchvision-family classifiers (random weights under
 * seed 0, BatchNorm calibrated from the images, 64 px, ONNX opset 13): narrow GoogLeNet, MobileNetV2,
 * EfficientNet-B0, VGG16-BN and DenseNet121, each with a reference run recorded by the authors' code
 * (tests/fixtures/families/<name>/reference/, made as tests/fixtures/families/README.md says). Each family
 * runs with the reference preset and with the default preset against the same recorded run.
 */
import { describe } from "vitest";
import { parityTests } from "./parityCase";

const root = "tests/fixtures/families";

interface Family {
  name: string;
  className: string;
  tau: number;
  layers: string[];
}

const FAMILIES: Family[] = [
  { name: "googlenet", className: "c5", tau: 4, layers: ["fc", "inception5b", "inception5a", "inception4e"] },
  { name: "mobilenet_v2", className: "c8", tau: 4, layers: ["classifier", "features.17", "features.16", "features.15"] },
  { name: "efficientnet_b0", className: "c2", tau: 4, layers: ["classifier", "features.8", "features.7", "features.6"] },
  { name: "vgg16_bn", className: "c6", tau: 4, layers: ["classifier", "features.42", "features.39", "features.36"] },
];

for (const f of FAMILIES) {
  const dir = `${root}/${f.name}`;
  for (const preset of ["reference", "default"] as const) {
    describe(`parity with the reference implementation (${f.name}, ${f.className}, τ ${f.tau}, preset ${preset})`, () => {
      parityTests({ dir, className: f.className, tau: f.tau, reference: `reference/${f.className}-tau${f.tau}.json.gz`, layers: f.layers, preset });
    });
  }
}
