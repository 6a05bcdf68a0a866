import { describe, expect, it } from "vitest";
import { createProgressBar } from "~/server/neurflow/light";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 100, write: (s: string) => (chunks.push(s), true) } };
}

describe("progress bar", () => {
  it("prints occasional plain lines when not on a terminal", () => {
    const { chunks, stream } = sink(false);
    const bar = createProgressBar("work", 100, { stream });
    for (let i = 0; i < 100; i++) bar.tick(1, `item ${i}`);
    bar.done("finished");
    bar.done();
    expect(chunks.length).toBeGreaterThanOrEqual(10);
    expect(chunks.length).toBeLessThanOrEqual(12);
    for (const c of chunks) expect(c.endsWith("\n")).toBe(true);
    expect(chunks.at(-1)).toContain("100% 100/100");
    expect(chunks.at(-1)).toContain("finished");
  });

  it("redraws one line on a terminal", () => {
    const { chunks, stream } = sink(true);
    const bar = createProgressBar("work", 4, { stream, redrawMs: 0 });
    bar.tick();
    bar.update(3, "three");
    bar.tick();
    bar.done();
    expect(chunks.filter((c) => c.startsWith("\r"))).toHaveLength(4);
    expect(chunks.at(-1)).toBe("\n");
    expect(chunks.at(-2)).toContain("[##############################]");
  });
});
