/**
 * onnxruntime-node, the optional native kernel library for ONNX models on CPU servers: where it is
 * installed, the heavy passes of a circuit (the activation pass and integrated gradients) run on it
 * with every core, and TensorFlow.js does the rest. `NEURFLOW_ONNXRUNTIME=0` turns it off;
 * `NEURFLOW_ONNXRUNTIME_THREADS=n` sets its threads (default: one per core).
 */
import { availableParallelism } from "node:os";

type Ort = typeof import("onnxruntime-node");
export type OrtSession = import("onnxruntime-node").InferenceSession;

let loaded: Promise<Ort | null> | null = null;

/** Whether onnxruntime may be used (NEURFLOW_ONNXRUNTIME is not 0/off/false). */
export function onnxRuntimeWanted(env = process.env.NEURFLOW_ONNXRUNTIME): boolean {
  return !(env !== undefined && /^(0|off|false|no)$/i.test(env.trim()));
}

/** onnxruntime-node, or null when it is not installed or cannot start here. */
export function loadOnnxRuntime(): Promise<Ort | null> {
  loaded ??= (async () => {
    try {
      const mod = (await import("onnxruntime-node")) as Ort & { default?: Ort };
      const ort = (mod.InferenceSession ? mod : mod.default) as Ort;
      if (!ort?.InferenceSession) throw new Error("the package has no InferenceSession");
      return ort;
    } catch {
      return null;
    }
  })();
  return loaded;
}

export function onnxRuntimeThreads(env = process.env.NEURFLOW_ONNXRUNTIME_THREADS): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > 256)
      throw new Error(`NEURFLOW_ONNXRUNTIME_THREADS must be an integer 1..256, got "${env}"`);
    return n;
  }
  return Math.max(1, Math.min(availableParallelism(), 64));
}

export async function createSession(ort: Ort, bytes: Uint8Array, threads = onnxRuntimeThreads()): Promise<OrtSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: true,
    logSeverityLevel: 3,
  });
}
