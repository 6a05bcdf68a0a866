/**
 * `npm run bench -- viewer` (or `npx tsx bench/viewer.ts [groups]`): the circuit viewer on a
 * generated circuit of ~500 neuron groups (6 ranks; every group has 3 parents; patches of the
 * toy-world images, so every node has a mosaic). Prints the store time (with the crossing-reduced
 * layout), the server render time of the circuit page, and in headless Chromium the time to
 * interactive (navigation start → the graph's first draw, when it answers clicks) and the time
 * until every node's mosaic arrived, cold (rendered by sharp on first request) and warm; the
 * time from the first draw to a click's detail panel; and, from a Chromium trace of one more
 * load, the main thread's busy time and its CPU time until the first draw (on a machine running
 * other work the wall-clock times grow with the load average; the CPU time much less).
 * `--runs N`: page loads (the first, then N − 1 warm ones; default 5).
 * Numbers only: nothing is asserted.
 */
import { performance } from "node:perf_hooks";
import { createCaller } from "~/server/api/root";
import { createContext } from "~/server/api/context";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { CIRCUIT_FORMAT, type Circuit, type CircuitLayer } from "~/server/neurflow/circuitFormat";
import { rng, syntheticPatches } from "../tests/helpers/syntheticCircuit";
import { seedCircuit, seedModelAndDataset } from "../tests/helpers/viewerSeed";
import { createUser, launchBrowser, startPlatform } from "../tests/e2e/helpers";

const GROUPS = Number(process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== "--runs") ?? 500);
/** `--no-images`: store the circuit without a run, so nodes have no mosaics (to separate image cost). */
const NO_IMAGES = process.argv.includes("--no-images");
const RANKS = 6;
const RUNS = Math.max(2, Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5);

/** A valid `neurflow-circuit/1` document with `groups` neuron groups over RANKS layer pairs. */
export function bigCircuit(groups: number, seed = 1): Circuit {
  const r = rng(seed);
  const per = Math.ceil(groups / RANKS);
  const patches = syntheticPatches(4);
  const names = ["fc", ...Array.from({ length: RANKS }, (_, i) => `l${RANKS - i}`)];
  const layers: CircuitLayer[] = [];
  for (let li = 0; li < RANKS; li++) {
    const nTargets = li === 0 ? 1 : per;
    const targets = Array.from({ length: nTargets }, (_, t) => {
      const k = 8;
      const topPatches = Array.from({ length: k }, () => Math.floor(r() * patches.length));
      return {
        neuron: li === 0 ? 0 : t,
        topPatches,
        topActivations: topPatches.map((_, i) => 10 - i),
        semanticGroups: topPatches.map((_, i) => (li === 0 ? i % per : i % 2)),
        importance: Array.from({ length: per }, () => r()),
        coreNeurons: [0, 1, 2].map(() => Math.floor(r() * per)).filter((v, i, a) => a.indexOf(v) === i),
        edges: [],
      };
    });
    const neuronGroups = Array.from({ length: per }, (_, g) =>
      li === 0
        ? { id: g, members: [{ neuron: 0, semanticGroup: g }] }
        : {
            id: g,
            members: [
              { neuron: g, semanticGroup: 0 },
              { neuron: (g + 1) % per, semanticGroup: 1 },
            ],
          },
    );
    layers.push({ upper: names[li]!, lower: names[li + 1]!, targets, neuronGroups, groupEdges: [] });
  }
  for (let li = 0; li + 1 < RANKS; li++) {
    const edges: CircuitLayer["groupEdges"] = [];
    for (let c = 0; c < per; c++) {
      const parents = new Set<number>();
      while (parents.size < 3) parents.add(Math.min(per - 1, Math.max(0, Math.round(c + (r() - 0.5) * per * 0.3))));
      for (const p of parents) edges.push({ child: c, parent: p, weight: (r() * 2 - 0.4) * 0.5 });
    }
    layers[li]!.groupEdges = edges;
  }
  return {
    format: CIRCUIT_FORMAT,
    model: { name: "toyworld-a", classes: ["bee", "ladybug", "fish", "sun", "tree", "car"], inputSize: 64 },
    class: { index: 0, name: "bee" },
    params: {
      preset: "default",
      tau: 3,
      k: 8,
      igSteps: 4,
      igMethod: "gausslegendre",
      importance: "meanAbs",
      edgeNormalization: "sequential",
      granularities: [1, 0.5, 0.25],
      strideRatio: 0.5,
      maxSemanticGroups: 5,
      maxNeuronGroups: 100,
      layers: names,
      backend: "bench",
      seed,
    } as Circuit["params"],
    images: ["000.png", "001.png", "002.png", "003.png"],
    patches,
    layers,
    createdAt: new Date(0).toISOString(),
  };
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tdur?: number;
  pid: number;
  tid: number;
  args?: { data?: { startTime?: number } };
}

/**
 * The renderer main thread's top-level tasks from navigation until `readyAt` (ms, the page's
 * clock): their total duration and their thread (CPU) time. The page's `viewer-init-start` mark
 * gives both the thread and the offset between the page's clock and the trace's.
 */
function mainThreadUntil(
  events: TraceEvent[],
  readyAt: number,
): { wall: number; cpu: number; longest: number; longestCpu: number } {
  const mark = events.find((e) => e.name === "viewer-init-start" && e.args?.data?.startTime != null);
  if (!mark) return { wall: NaN, cpu: NaN, longest: NaN, longestCpu: NaN };
  const origin = mark.ts - mark.args!.data!.startTime! * 1000;
  const end = origin + readyAt * 1000;
  const tasks = events.filter(
    (e) =>
      e.pid === mark.pid &&
      e.tid === mark.tid &&
      e.ph === "X" &&
      e.name === "ThreadControllerImpl::RunTask" &&
      e.ts >= origin &&
      e.ts < end,
  );
  let wall = 0;
  let cpu = 0;
  let longest = 0;
  let longestCpu = 0;
  for (const t of tasks) {
    const d = Math.min(t.dur ?? 0, end - t.ts) / 1000;
    wall += d;
    cpu += (t.tdur ?? 0) / 1000;
    if (d > longest) [longest, longestCpu] = [d, (t.tdur ?? 0) / 1000];
  }
  return { wall, cpu, longest, longestCpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (v: number) => `${v.toFixed(0)} ms`;

async function main() {
  const platform = await startPlatform({ workers: 0 });
  const browser = await launchBrowser();
  try {
    const userId = await createUser(platform, { username: "bench", password: "bench-password", role: "admin" });
    const db = platform.db();
    const { token } = createSession(db, userId);
    const admin = createCaller(
      createContext({
        db,
        queue: new SqliteJobQueue(db),
        storageRoot: platform.dataDir,
        headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
        resHeaders: null,
      }),
    );
    const base = await seedModelAndDataset(admin);
    const doc = bigCircuit(GROUPS);
    const t0 = performance.now();
    const { circuitId } = NO_IMAGES
      ? { circuitId: (await import("~/server/circuits/store")).importCircuit(db, doc, { storedBy: userId }) }
      : seedCircuit(db, base, doc, userId);
    const storeMs = performance.now() - t0;
    const graph = await admin.circuitGraph.get({ id: circuitId });
    const url = `${platform.url}/circuits/${circuitId}/view`;

    // server render of the page (HTML with the graph as props), first and warm
    const renders: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = performance.now();
      const r = await fetch(url, { headers: { cookie: `${SESSION_COOKIE}=${token}` } });
      await r.text();
      if (r.status !== 200) throw new Error(`page answered ${r.status}`);
      renders.push(performance.now() - s);
    }

    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await ctx.addCookies([{ name: SESSION_COOKIE, value: token, url: platform.url }]);
    const tti: number[] = [];
    const phases: Record<string, number>[] = [];
    const mosaicsAll: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const page = await ctx.newPage();
      let seen = 0;
      let lastMosaic = 0;
      const start = performance.now();
      page.on("response", (r) => {
        if (r.url().includes("/mosaics/")) {
          seen++;
          lastMosaic = performance.now() - start;
        }
      });
      await page.goto(url);
      await page.locator('[data-testid="viewer"][data-ready="1"]').waitFor({ timeout: 60_000 });
      tti.push(await page.evaluate(() => window.__viewerReady!));
      phases.push(
        await page.evaluate(() => {
          const perf = window.performance;
          const nav = perf.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
          // (no named helper functions here: tsx would wrap them in __name, which the page lacks)
          return {
            request: nav.requestStart,
            response: nav.responseStart,
            html: nav.responseEnd,
            domContentLoaded: nav.domContentLoadedEventEnd,
            initStart: perf.getEntriesByName("viewer-init-start")[0]?.startTime ?? NaN,
            initEnd: perf.getEntriesByName("viewer-init-end")[0]?.startTime ?? NaN,
            firstDraw: window.__viewerReady!,
          };
        }),
      );
      const end = Date.now() + 180_000;
      while (!NO_IMAGES && seen < graph.groups.length && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      mosaicsAll.push(lastMosaic);
      // the first click after load: time until the panel shows
      const box = (await page.getByTestId("circuit-canvas").boundingBox())!;
      const p = await page.evaluate(
        (id) => window.__viewerCy!.getElementById(id).renderedPosition(),
        `g${graph.groups[0]!.id}`,
      );
      const c0 = performance.now();
      await page.mouse.click(box.x + p.x, box.y + p.y);
      await page.getByTestId("detail-panel").waitFor();
      if (i === 0) console.log(`  click → panel: ${ms(performance.now() - c0)}`);
      await page.close();
    }
    // a click as soon as the graph is drawn (the mosaics are attached and drawn right after)
    const clickAtDraw: number[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await ctx.newPage();
      await page.goto(url);
      await page.locator('[data-testid="viewer"][data-ready="1"]').waitFor({ timeout: 60_000 });
      const box = (await page.getByTestId("circuit-canvas").boundingBox())!;
      const p = await page.evaluate(
        (id) => window.__viewerCy!.getElementById(id).renderedPosition(),
        `g${graph.groups[0]!.id}`,
      );
      const c0 = performance.now();
      await page.mouse.click(box.x + p.x, box.y + p.y);
      await page.getByTestId("detail-panel").waitFor();
      clickAtDraw.push(performance.now() - c0);
      await page.close();
    }

    // one more load under a trace: the main thread's tasks until the first draw, wall and CPU time
    const page = await ctx.newPage();
    await browser.startTracing(page, { categories: ["toplevel", "blink.user_timing"] });
    await page.goto(url);
    await page.locator('[data-testid="viewer"][data-ready="1"]').waitFor({ timeout: 60_000 });
    const readyAt = await page.evaluate(() => window.__viewerReady!);
    const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
    const main = mainThreadUntil(trace.traceEvents, readyAt);
    await page.close();

    const load = (await import("node:os")).loadavg()[0]!;
    console.log(
      `viewer bench: ${graph.groups.length} groups + logit, ${graph.edges.length} edges, ${RANKS} ranks (Chromium headless, software rendering; load average ${load.toFixed(1)} on ${(await import("node:os")).cpus().length} cores)`,
    );
    console.log(`  store (normalise + layout): ${ms(storeMs)}`);
    console.log(
      `  server render of /circuits/${circuitId}/view: first ${ms(renders[0]!)}, warm median ${ms(median(renders.slice(1)))}`,
    );
    const warm = tti.slice(1);
    console.log(
      `  time to interactive (navigation → first draw): first ${ms(tti[0]!)}, warm median ${ms(median(warm))} (min ${ms(Math.min(...warm))}, max ${ms(Math.max(...warm))}, ${warm.length} runs)`,
    );
    const ph = phases[1 + warm.indexOf(median(warm))]!;
    console.log(
      `  breakdown (the median warm run): request sent ${ms(ph.request!)}, response started ${ms(ph.response!)}, HTML received ${ms(ph.html!)}, DOMContentLoaded ${ms(ph.domContentLoaded!)}, Cytoscape init ${ms(ph.initStart!)} → ${ms(ph.initEnd!)}, first draw ${ms(ph.firstDraw!)}`,
    );
    console.log(
      `  main thread until the first draw (${ms(readyAt)}, traced): busy ${ms(main.wall)} in tasks, of which CPU ${ms(main.cpu)}; longest task ${ms(main.longest)} (CPU ${ms(main.longestCpu)})`,
    );
    console.log(`  click right after the first draw → panel: ${clickAtDraw.map(ms).join(", ")}`);
    console.log(
      `  all ${graph.groups.length} mosaics received: cold ${ms(mosaicsAll[0]!)} (sharp renders them), warm ${ms(median(mosaicsAll.slice(1)))}`,
    );
    await ctx.close();
  } finally {
    await browser.close();
    await platform.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
