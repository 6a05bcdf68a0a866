import { describe, expect, it } from "vitest";
import { BACKEND_NAMES, backendInfo, initBackend } from "~/server/neurflow/backend";
import { tf } from "~/server/neurflow/tf";

describe("backend selection", () => {
  it("rejects an override that is not a backend, naming the choices", async () => {
    await expect(initBackend("cuda-please")).rejects.toThrow(
      /NEURFLOW_BACKEND="cuda-please" is not a backend; use one of tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu/,
    );
    expect(backendInfo()).toBeNull();
  });

  it("picks the best backend present, says why better ones were skipped, and keeps it", async () => {
    const info = await initBackend(undefined);
    const order = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm"];
    expect(order).toContain(info.name);
    expect(info.skipped.map((s) => s.name)).toEqual(order.slice(0, order.indexOf(info.name)));
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(0);
    expect(tf.getBackend()).toBe(info.tfBackend);
    expect(await initBackend(undefined)).toBe(info);
    expect(BACKEND_NAMES).toContain(info.name);
    // it computes
    expect(Array.from(tf.tensor([1, 2, 3]).square().dataSync())).toEqual([1, 4, 9]);
  });
});
