/**
 * Backend selection. The engine runs on the best TensorFlow.js backend present, in this order:
 *   tfjs-node-gpu (CUDA) → webgpu (Dawn, when a GPU adapter exists) → tfjs-node (CPU) → wasm.
 * `NEURFLOW_BACKEND` (one of the names below, or "cpu" for tfjs's plain JS kernels) overrides.
 * Every run records the backend that ran (`BackendInfo`).
 */
import { existsSync, readdirSync } from "node:fs";
import * as nodeModule from "node:module";
import { tf } from "./tf";

export const BACKEND_NAMES = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** Which of the engine's backends ran. */
  name: BackendName;
  /** tfjs's own name for it (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  tfBackend: string;
  /** A short human description: adapter, SIMD, threads. */
  detail: string;
  /** Why the better backends were passed over, in order. */
  skipped: { name: BackendName; reason: string }[];
}

// (a namespace import: bundles that add their own `createRequire` banner must not clash)
const require = nodeModule.createRequire(import.meta.url);
let current: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0]!.slice(0, 200);
}

async function tryNode(pkg: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node"): Promise<string> {
  // The native packages register the "tensorflow" backend on import. They are optional
  // dependencies: absent or broken (no libtensorflow) is an ordinary "not available".
  require(pkg);
  if (!(await tf.setBackend("tensorflow"))) throw new Error("tensorflow backend failed to initialise");
  return pkg === "@tensorflow/tfjs-node-gpu" ? "libtensorflow with CUDA" : "libtensorflow (CPU)";
}

/** Whether the machine shows a GPU device node (NVIDIA, or a DRM render node). */
function hasGpuDevice(): boolean {
  try {
    if (existsSync("/dev/nvidia0") || existsSync("/dev/nvidiactl")) return true;
    return existsSync("/dev/dri") && readdirSync("/dev/dri").some((f) => f.startsWith("renderD"));
  } catch {
    return false;
  }
}

async function tryWebgpu(forced: boolean): Promise<string> {
  // without a GPU device node, only a software Vulkan driver could answer: not worth starting Dawn
  if (!forced && process.platform === "linux" && !hasGpuDevice())
    throw new Error("no GPU device (/dev/nvidia*, /dev/dri/renderD*)");
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    const webgpu = require("webgpu") as { create: (flags: string[]) => unknown; globals: object };
    Object.assign(globalThis, webgpu.globals);
    if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: {}, writable: true, configurable: true });
    g.navigator!.gpu = webgpu.create([]);
  }
  const gpu = g.navigator!.gpu as { requestAdapter: (o?: object) => Promise<unknown> };
  const adapter = (await gpu.requestAdapter({ powerPreference: "high-performance" })) as {
    info?: { vendor?: string; architecture?: string; description?: string };
  } | null;
  if (!adapter) throw new Error("no WebGPU adapter (no usable GPU)");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("webgpu backend failed to initialise");
  const info = adapter.info ?? {};
  return ["WebGPU", info.vendor, info.architecture, info.description].filter(Boolean).join(" ");
}

async function tryWasm(): Promise<string> {
  const wasm = require("@tensorflow/tfjs-backend-wasm") as typeof import("@tensorflow/tfjs-backend-wasm");
  void wasm;
  if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to initialise");
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return `WebAssembly${simd ? " SIMD" : ""}, one thread`;
}

async function tryCpu(): Promise<string> {
  if (!(await tf.setBackend("cpu"))) throw new Error("cpu backend failed to initialise");
  return "plain JavaScript kernels";
}

let forcedBackend = false;

const attempts: Record<BackendName, () => Promise<string>> = {
  "tfjs-node-gpu": () => tryNode("@tensorflow/tfjs-node-gpu"),
  webgpu: () => tryWebgpu(forcedBackend),
  "tfjs-node": () => tryNode("@tensorflow/tfjs-node"),
  wasm: tryWasm,
  cpu: tryCpu,
};

function parseOverride(value: string | undefined): BackendName | null {
  if (!value) return null;
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`NEURFLOW_BACKEND="${value}" is not a backend; use one of ${BACKEND_NAMES.join(", ")}`);
}

/**
 * Selects and initialises the backend once per process (later calls return the same answer).
 * With an override, only that backend is tried, and its failure is an error.
 */
export function initBackend(override: string | undefined = process.env.NEURFLOW_BACKEND): Promise<BackendInfo> {
  if (current) return Promise.resolve(current);
  pending ??= (async () => {
    const forced = parseOverride(override);
    forcedBackend = forced !== null;
    const order: BackendName[] = forced ? [forced] : ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm"];
    const skipped: BackendInfo["skipped"] = [];
    for (const name of order) {
      try {
        const detail = await attempts[name]();
        current = { name, tfBackend: tf.getBackend(), detail, skipped };
        return current;
      } catch (e) {
        if (forced) throw new Error(`NEURFLOW_BACKEND=${name} cannot run here: ${message(e)}`);
        skipped.push({ name, reason: message(e) });
      }
    }
    throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
  })();
  pending.catch(() => (pending = null));
  return pending;
}

export function backendInfo(): BackendInfo | null {
  return current;
}
