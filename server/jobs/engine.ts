/**
 * How the worker reaches the engine. The engine is imported lazily (and only in the worker), so
 * the web app never loads TensorFlow.js, and tests of the queue can pass a fake engine function.
 */
import { fileURLToPath } from "node:url";
import type { Circuit, CircuitRequest, CircuitRunOptions } from "~/server/neurflow/light";

export type CircuitEngine = (request: CircuitRequest, options: CircuitRunOptions) => Promise<Circuit>;

/** Loads a model from its manifest and checks it runs; resolves with a short note, throws a clear error. */
export type ModelChecker = (manifestPath: string) => Promise<string>;

async function importOptional(relative: string): Promise<Record<string, unknown> | null> {
  const url = new URL(relative, import.meta.url).href;
  try {
    return (await import(/* webpackIgnore: true */ url)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    // only the module itself being absent means "not installed"; a broken import inside it is an error
    if (code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes(fileURLToPath(url))) return null;
    throw e;
  }
}

export async function loadEngine(): Promise<CircuitEngine> {
  const mod = await importOptional("../neurflow/index.ts");
  const build = mod?.buildCircuit;
  if (typeof build !== "function")
    throw new Error(
      "the NeurFlow engine is not available in this installation (server/neurflow/index.ts exports no buildCircuit)",
    );
  return build as CircuitEngine;
}

/**
 * The model check: the engine's `loadModel(manifestPath)`, which checks every manifest layer
 * names a graph tensor and runs one batch of zeros to `classes.length` logits. Without the engine
 * the check is skipped (the upload's structural checks still ran) and the note says so.
 */
export async function loadModelChecker(): Promise<ModelChecker> {
  const mod = await importOptional("../neurflow/index.ts");
  const loadModel = mod?.loadModel;
  const initBackend = mod?.initBackend;
  if (typeof loadModel !== "function")
    return async () => "not load-checked: the engine's model loader is not installed";
  return async (manifestPath) => {
    if (typeof initBackend === "function") await (initBackend as () => Promise<unknown>)();
    const loaded = (await (loadModel as (p: string) => Promise<unknown>)(manifestPath)) as {
      manifest?: { classes?: string[] };
      dispose?: () => void;
    } | null;
    if (!loaded || typeof loaded !== "object") throw new Error("the model loader returned nothing");
    const classes = loaded.manifest?.classes?.length ?? 0;
    loaded.dispose?.();
    return `loaded; one batch of zeros gave ${classes} logits`;
  };
}

/**
 * The engine's backend as the worker prints and registers it ("webgpu", "tfjs-node", "wasm", …,
 * with its detail), started once; "none" when this installation has no engine.
 */
export async function engineBackend(): Promise<string> {
  const mod = await importOptional("../neurflow/index.ts");
  const initBackend = mod?.initBackend;
  if (typeof initBackend !== "function") return "none (the engine is not installed)";
  const info = (await (initBackend as () => Promise<{ name: string; detail?: string }>)()) ?? { name: "unknown" };
  return info.detail ? `${info.name} (${info.detail})` : info.name;
}
