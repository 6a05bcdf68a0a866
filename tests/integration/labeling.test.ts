/**
 * Label jobs against a local OpenAI-compatible server (tests/helpers/fakeOpenAI.ts): the requests
 * carry the image(s), the prompt version and a strict JSON schema; good replies are stored as model
 * revisions with provenance and tokens; malformed, slow and failing (429/500) replies are retried
 * and then recorded as failures, never stored; the call cap holds; re-runs skip what is labeled;
 * nothing an annotator saved is lost.
 */
import { eq } from "drizzle-orm";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { explanationRevisions, explanations, jobs, labelRevisions, labels } from "~/db/schema";
import { labelJobHandler } from "~/server/jobs/handlers/labelJob";
import { Worker } from "~/server/jobs/worker";
import { LabelClient } from "~/server/labeling/client";
import { labelConfig, publicLabelConfig, type LabelConfig } from "~/server/labeling/config";
import { loadCircuitForLabels } from "~/server/labeling/circuitData";
import { strongestEdges } from "~/server/labeling/labelCircuit";
import { loadPrompt } from "~/server/labeling/prompts";
import { resolveTarget, saveRevision } from "~/server/labeling/store";
import {
  goodLabel,
  startFakeOpenAI,
  type FakeOpenAI,
  type FakeReply,
  type RecordedRequest,
} from "../helpers/fakeOpenAI";
import { circuitImageDir } from "~/server/circuits/graph";
import { labelledCircuit, runCircuit, testLabelConfig } from "../helpers/labelsFixture";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
let fake: FakeOpenAI;
const saved = { base: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };

beforeAll(async () => {
  env = await makeEnv();
  fake = await startFakeOpenAI();
  process.env.OPENAI_BASE_URL = fake.url;
  delete process.env.OPENAI_API_KEY;
});
afterAll(async () => {
  await fake.close();
  env.close();
  if (saved.base === undefined) delete process.env.OPENAI_BASE_URL;
  else process.env.OPENAI_BASE_URL = saved.base;
  if (saved.key !== undefined) process.env.OPENAI_API_KEY = saved.key;
});
afterEach(() => {
  fake.requests.length = 0;
  fake.respond = (r) => (r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes"));
});

function goodExplanationReply(): FakeReply {
  return {
    content: JSON.stringify({
      steps: ["The child shows stripes.", "The parent shows a body.", "Stripes make up the body."],
      explanation: "Stripes make up the body.",
    }),
    usage: { prompt_tokens: 200, completion_tokens: 60 },
  };
}

/** Runs the circuit's label job (queued through the router, as the UI does) with one worker. */
async function runLabelJob(circuitId: number, cfg: LabelConfig, opts: { force?: boolean; maxCalls?: number } = {}) {
  const { jobId } = await env.as.annotator.labels.start({
    circuitId,
    force: opts.force ?? false,
    maxCalls: opts.maxCalls,
  });
  const worker = new Worker({
    queue: env.queue,
    handlers: { label: labelJobHandler(env.db, () => new LabelClient(cfg)) },
    progressIntervalMs: 0,
  });
  const outcome = await worker.runOnce();
  const job = env.db.select().from(jobs).where(eq(jobs.id, jobId)).get()!;
  return {
    outcome,
    job,
    result: job.result as {
      labeled: number;
      explained: number;
      skipped: number;
      notAttempted: number;
      failed: { kind: string; group?: number; error: string }[];
      calls: number;
      promptTokens: number;
      completionTokens: number;
      capReached: boolean;
    },
  };
}

/** A stable key of the item a request is about (the user message names the group / the edge). */
const itemKey = (r: RecordedRequest) => `${r.kind}:${r.userText.split("\n")[0]}`;

function circuitCounts(circuitId: number) {
  const data = loadCircuitForLabels(env.db, circuitId)!;
  return { data, groups: data.groups.length, edges: strongestEdges(data.edges, 2) };
}

describe("configuration", () => {
  it("is off without a key or base URL, and names a bad variable", () => {
    expect(labelConfig({}).configured).toBe(false);
    expect(publicLabelConfig({})).toMatchObject({ configured: false, model: null });
    expect(labelConfig({ OPENAI_BASE_URL: "http://127.0.0.1:1/v1" })).toMatchObject({
      configured: true,
      model: "gpt-4o-mini",
      apiKey: null,
    });
    expect(labelConfig({ OPENAI_API_KEY: "k", NEURFLOW_LABEL_MODEL: "m" })).toMatchObject({
      configured: true,
      model: "m",
      baseURL: null,
    });
    expect(() => labelConfig({ OPENAI_BASE_URL: "ftp://x" })).toThrow(/OPENAI_BASE_URL must be an http/);
    expect(() => labelConfig({ NEURFLOW_LABEL_CONCURRENCY: "0" })).toThrow(/NEURFLOW_LABEL_CONCURRENCY/);
    expect(publicLabelConfig({ OPENAI_API_KEY: "secret-key" })).toStrictEqual({
      configured: true,
      model: "gpt-4o-mini",
      endpoint: "api.openai.com",
      error: null,
    });
  });
});

describe("label jobs", () => {
  it("labels every group and explains the strongest edges; requests carry the image, prompt version and strict schema", async () => {
    const circuitId = await labelledCircuit(env, { seed: 11 });
    const { data, groups, edges } = circuitCounts(circuitId);
    expect(groups).toBeGreaterThan(3);
    expect(edges.length).toBeGreaterThan(1);
    const { outcome, result } = await runLabelJob(circuitId, testLabelConfig(fake.url));
    expect(outcome?.status).toBe("succeeded");
    expect(result).toMatchObject({
      labeled: groups,
      explained: edges.length,
      failed: [],
      skipped: 0,
      capReached: false,
      calls: groups + edges.length,
    });
    expect(result.promptTokens).toBe(groups * 120 + edges.length * 200);

    const labelPrompt = loadPrompt("label-v1");
    expect(fake.requests).toHaveLength(groups + edges.length);
    for (const r of fake.requests) {
      expect(r.path).toBe("/v1/chat/completions");
      expect(r.headers.authorization).toBe("Bearer test-key");
      expect(r.body.model).toBe("fake-vlm-1");
      expect(r.body.response_format?.type).toBe("json_schema");
      expect(r.body.response_format?.json_schema?.strict).toBe(true);
      expect(r.body.response_format?.json_schema?.schema).toMatchObject({
        type: "object",
        additionalProperties: false,
      });
      const system = r.body.messages?.find((m) => m.role === "system")?.content;
      expect(typeof system === "string" && system.includes('"bee"')).toBe(true);
      expect(r.headers["x-neurflow-prompt-version"]).toBe(r.kind === "label" ? "label-v1" : "explain-v1");
      expect(r.images).toHaveLength(r.kind === "label" ? 1 : 2);
      for (const url of r.images) {
        expect(url.startsWith("data:image/png;base64,")).toBe(true);
        const meta = await sharp(Buffer.from(url.slice("data:image/png;base64,".length), "base64")).metadata();
        expect(meta.format).toBe("png");
        expect(meta.width).toBeGreaterThanOrEqual(112);
      }
    }
    // every label request is built from the versioned prompt file
    const first = fake.requests.find((r) => r.kind === "label")!;
    expect(first.userText).toMatch(/^Neuron group \d+ of layer "/);
    expect(labelPrompt.system).toContain("{{className}}");
    // labels precede explanations (an explanation cites both labels)
    const lastLabel = Math.max(...fake.requests.filter((r) => r.kind === "label").map((r) => r.n));
    const firstExpl = Math.min(...fake.requests.filter((r) => r.kind === "explanation").map((r) => r.n));
    expect(lastLabel).toBeLessThan(firstExpl);
    expect(fake.requests.find((r) => r.kind === "explanation")!.userText).toContain('labelled "yellow stripes"');

    // stored with provenance
    const ls = env.db.select().from(labels).where(eq(labels.circuitId, circuitId)).all();
    expect(ls).toHaveLength(groups);
    for (const l of ls) expect(l).toMatchObject({ text: "yellow stripes", version: 1, review: "unreviewed" });
    const revs = env.db
      .select()
      .from(labelRevisions)
      .all()
      .filter((r) => ls.some((l) => l.id === r.labelId));
    expect(revs).toHaveLength(groups);
    for (const r of revs) {
      expect(r).toMatchObject({
        source: "model",
        modelName: "fake-vlm-1",
        promptVersion: "label-v1",
        promptTokens: 120,
        completionTokens: 20,
        authorId: null,
      });
      expect(r.evidence!.length).toBeGreaterThan(0);
      expect(r.evidence!.length).toBeLessThanOrEqual(9);
    }
    const ex = env.db.select().from(explanations).where(eq(explanations.circuitId, circuitId)).all();
    expect(ex).toHaveLength(edges.length);
    expect(ex[0]!.text).toMatch(/^Stripes make up the body\.\n\nReasoning:\n1\. The child shows stripes\./);
    const exRevs = env.db
      .select()
      .from(explanationRevisions)
      .all()
      .filter((r) => ex.some((e) => e.id === r.explanationId));
    for (const r of exRevs)
      expect(r).toMatchObject({ source: "model", promptVersion: "explain-v1", promptTokens: 200 });

    // the group's evidence are its strongest concept patches
    const g0 = data.groups[0]!;
    const g0label = await env.as.viewer.labels.get({
      circuitId,
      target: { kind: "group", layer: g0.layer, group: g0.group },
    });
    expect(g0label.revisions[0]!.evidence).toStrictEqual(g0.patches.slice(0, 9));
    expect(g0label.canEdit).toBe(false);

    // progress reached 100 % through the job's events
    const job = await env.as.viewer.labels.job({ circuitId });
    expect(job).toMatchObject({ status: "succeeded", progress: 1 });
  });

  it("a circuit computed by a run gets its patches from the viewer's renderer", async () => {
    const circuitId = await runCircuit(env, { seed: 20 });
    expect(circuitImageDir(env.db, circuitId)).not.toBeNull();
    const imported = await labelledCircuit(env, { seed: 20 });
    expect(circuitImageDir(env.db, imported)).toBeNull();
    const { groups, edges } = circuitCounts(circuitId);
    const { result } = await runLabelJob(circuitId, testLabelConfig(fake.url));
    expect(result).toMatchObject({ labeled: groups, explained: edges.length, failed: [] });
    // the same patches give (nearly) the same grid either way: both crop the model-size image
    const labelImages = () =>
      new Map(fake.requests.filter((r) => r.kind === "label").map((r) => [r.userText, r.images[0]!]));
    fake.requests.length = 0;
    await runLabelJob(imported, testLabelConfig(fake.url));
    const viaFiles = labelImages();
    fake.requests.length = 0;
    await runLabelJob(circuitId, testLabelConfig(fake.url), { force: true });
    const viaRenderer = labelImages();
    expect([...viaRenderer.keys()].sort()).toStrictEqual([...viaFiles.keys()].sort());
    const px = (url: string) =>
      sharp(Buffer.from(url.split(",")[1]!, "base64"))
        .raw()
        .toBuffer();
    for (const [k, url] of viaFiles) {
      const [a, b] = [await px(url), await px(viaRenderer.get(k)!)];
      expect(a.length).toBe(b.length);
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!);
      expect(diff / a.length).toBeLessThan(8); // resampling differs a little (one resize vs two)
    }
  });

  it("a re-run skips what is labeled; force adds a model revision on top", async () => {
    const circuitId = await labelledCircuit(env, { seed: 12 });
    const { groups, edges } = circuitCounts(circuitId);
    await runLabelJob(circuitId, testLabelConfig(fake.url));
    fake.requests.length = 0;
    const again = await runLabelJob(circuitId, testLabelConfig(fake.url));
    expect(fake.requests).toHaveLength(0);
    expect(again.result).toMatchObject({ labeled: 0, explained: 0, skipped: groups + edges.length, calls: 0 });

    fake.respond = (r) => (r.kind === "explanation" ? goodExplanationReply() : goodLabel("black and yellow stripes"));
    const forced = await runLabelJob(circuitId, testLabelConfig(fake.url), { force: true });
    expect(forced.result).toMatchObject({ labeled: groups, explained: edges.length });
    const ls = env.db.select().from(labels).where(eq(labels.circuitId, circuitId)).all();
    for (const l of ls) expect(l).toMatchObject({ text: "black and yellow stripes", version: 2 });
  });

  it("malformed replies are retried, then recorded as failures and never stored", async () => {
    const circuitId = await labelledCircuit(env, { seed: 13 });
    const { groups, edges, data } = circuitCounts(circuitId);
    const seen = new Map<string, number>();
    const [a, b, c] = data.groups.map((g) => `label:Neuron group ${g.group} of layer "${g.layerName}"`);
    fake.respond = (r) => {
      const k = itemKey(r);
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (k.startsWith(a!) && n === 1) return { content: "Sure! The label is: stripes" }; // not JSON → retried
      if (k.startsWith(b!)) return { content: JSON.stringify({ label: 5, description: "x" }) }; // wrong shape, always
      if (k.startsWith(c!)) return { content: JSON.stringify({ label: "ok", description: "fine", extra: "<b>" }) }; // extra key, always
      return r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes");
    };
    const { outcome, result } = await runLabelJob(circuitId, testLabelConfig(fake.url, { concurrency: 1 }));
    expect(outcome?.status).toBe("succeeded");
    expect(result.labeled).toBe(groups - 2);
    expect(result.failed.filter((f) => f.kind === "group")).toHaveLength(2);
    expect(result.failed.find((f) => f.group === data.groups[1]!.group)?.error).toMatch(
      /malformed reply after 2 tries: the reply does not match the schema: label/,
    );
    expect(seen.get([...seen.keys()].find((k) => k.startsWith(a!))!)).toBe(2);
    // b and c have no label row at all
    for (const g of [data.groups[1]!, data.groups[2]!]) {
      const t = resolveTarget(env.db, circuitId, { kind: "group", layer: g.layer, group: g.group });
      expect(env.db.select().from(labels).where(eq(labels.neuronGroupId, t.rowId)).get()).toBeUndefined();
    }
    // edges whose groups lack a label are still explained, with "(no label yet)" in the prompt
    expect(result.explained + result.failed.filter((f) => f.kind === "edge").length).toBe(edges.length);
    // the failures are visible to the UI
    const job = await env.as.viewer.labels.job({ circuitId });
    expect(job?.result?.failed).toHaveLength(2);
  });

  it("429 and 500 are retried with back-off; a reply that keeps failing gives up cleanly", async () => {
    const circuitId = await labelledCircuit(env, { seed: 14 });
    const { groups, data } = circuitCounts(circuitId);
    const [a, b] = data.groups.map((g) => `label:Neuron group ${g.group} of layer "${g.layerName}"`);
    const seen = new Map<string, number[]>();
    fake.respond = (r) => {
      const k = itemKey(r);
      const times = seen.get(k) ?? [];
      times.push(Date.now());
      seen.set(k, times);
      if (k.startsWith(a!) && times.length === 1) return { status: 429, headers: { "retry-after-ms": "50" } };
      if (k.startsWith(a!) && times.length === 2) return { status: 500 };
      if (k.startsWith(b!)) return { status: 503 };
      return r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes");
    };
    const { outcome, result } = await runLabelJob(circuitId, testLabelConfig(fake.url));
    expect(outcome?.status).toBe("succeeded");
    const ta = seen.get([...seen.keys()].find((k) => k.startsWith(a!))!)!;
    expect(ta).toHaveLength(3);
    expect(ta[1]! - ta[0]!).toBeGreaterThanOrEqual(45); // Retry-After honoured (the cap is 60 ms)
    const tb = seen.get([...seen.keys()].find((k) => k.startsWith(b!))!)!;
    expect(tb).toHaveLength(3); // maxAttempts
    expect(result.labeled).toBe(groups - 1);
    expect(result.failed.find((f) => f.group === data.groups[1]!.group)?.error).toMatch(
      /gave up after 3 tries: HTTP 503/,
    );
    const ga = data.groups[0]!;
    const la = await env.as.viewer.labels.get({
      circuitId,
      target: { kind: "group", layer: ga.layer, group: ga.group },
    });
    expect(la.head?.text).toBe("yellow stripes");
  });

  it("a slow reply times out and is retried; one that is always slow fails", async () => {
    const circuitId = await labelledCircuit(env, { seed: 15 });
    const { groups, data } = circuitCounts(circuitId);
    const [a, b] = data.groups.map((g) => `label:Neuron group ${g.group} of layer "${g.layerName}"`);
    const seen = new Map<string, number>();
    fake.respond = (r) => {
      const k = itemKey(r);
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (k.startsWith(a!) && n === 1) return { ...goodLabel("too late"), delayMs: 4000 };
      if (k.startsWith(b!)) return { ...goodLabel("never"), delayMs: 4000 };
      return r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes");
    };
    const { result } = await runLabelJob(circuitId, testLabelConfig(fake.url, { timeoutMs: 1000, maxAttempts: 2 }));
    expect(result.labeled).toBe(groups - 1);
    expect(result.failed.find((f) => f.group === data.groups[1]!.group)?.error).toMatch(
      /gave up after 2 tries: .*time/i,
    );
    const ga = data.groups[0]!;
    expect(
      (await env.as.viewer.labels.get({ circuitId, target: { kind: "group", layer: ga.layer, group: ga.group } })).head
        ?.text,
    ).toBe("yellow stripes");
  });

  it("the per-job call cap holds (retries count); what is left is reported, not attempted", async () => {
    const circuitId = await labelledCircuit(env, { seed: 16 });
    const { groups, edges, data } = circuitCounts(circuitId);
    const a = `label:Neuron group ${data.groups[0]!.group} of layer "${data.groups[0]!.layerName}"`;
    fake.respond = (r) => (itemKey(r).startsWith(a) ? { status: 500 } : goodLabel("yellow stripes"));
    const { result } = await runLabelJob(circuitId, testLabelConfig(fake.url, { concurrency: 1, maxCalls: 100 }), {
      maxCalls: 4,
    });
    expect(fake.requests).toHaveLength(4);
    expect(result.calls).toBe(4);
    expect(result.capReached).toBe(true);
    // group a: 3 failed tries; one more group labeled; the rest not attempted
    expect(result.labeled).toBe(1);
    expect(result.notAttempted).toBe(groups + edges.length - 2);
    // a re-run continues with what is left
    fake.respond = (r) => (r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes"));
    const again = await runLabelJob(circuitId, testLabelConfig(fake.url));
    expect(again.result.labeled).toBe(groups - 1);
    expect(again.result.skipped).toBe(1);
  });

  it("an annotator's save while the model is thinking is kept; the model's reply is not stored", async () => {
    const circuitId = await labelledCircuit(env, { seed: 17 });
    const { data } = circuitCounts(circuitId);
    const g = data.groups[0]!;
    const a = `label:Neuron group ${g.group} of layer "${g.layerName}"`;
    fake.respond = (r) => {
      if (itemKey(r).startsWith(a)) {
        const t = resolveTarget(env.db, circuitId, { kind: "group", layer: g.layer, group: g.group });
        saveRevision(env.db, t, { expectedVersion: 0, text: "human label", source: "annotator", authorId: 2 });
        return goodLabel("model label");
      }
      return r.kind === "explanation" ? goodExplanationReply() : goodLabel("yellow stripes");
    };
    const { result } = await runLabelJob(circuitId, testLabelConfig(fake.url, { concurrency: 1 }));
    expect(result.skipped).toBe(1);
    const l = await env.as.viewer.labels.get({ circuitId, target: { kind: "group", layer: g.layer, group: g.group } });
    expect(l.head).toMatchObject({ text: "human label", version: 1 });
    expect(l.revisions.map((r) => r.source)).toStrictEqual(["annotator"]);
  });

  it("without an endpoint: the UI is told, starting is refused, everything else works", async () => {
    const circuitId = await labelledCircuit(env, { seed: 18 });
    const base = process.env.OPENAI_BASE_URL;
    delete process.env.OPENAI_BASE_URL;
    try {
      await expect(env.as.viewer.labels.config()).resolves.toMatchObject({ configured: false });
      await expect(env.as.annotator.labels.start({ circuitId })).rejects.toMatchObject({
        code: "PRECONDITION_FAILED",
        message: expect.stringMatching(/no MLLM endpoint is configured/),
      });
      await expect(env.as.viewer.labels.forCircuit({ circuitId })).resolves.toMatchObject({
        groups: [],
        edges: [],
        job: null,
      });
      await expect(env.as.viewer.circuits.get({ id: circuitId })).resolves.toMatchObject({ id: circuitId });
      // a queued job met by a worker without an endpoint fails at once with the reason
      const job = await env.queue.enqueue("label", { circuitId });
      const worker = new Worker({
        queue: env.queue,
        handlers: { label: labelJobHandler(env.db, () => new LabelClient(labelConfig({}))) },
      });
      const outcome = await worker.runOnce();
      expect(outcome).toMatchObject({
        status: "failed",
        error: expect.stringMatching(/no MLLM endpoint is configured/),
      });
      expect((await env.queue.get(job.id))?.attempts).toBe(1);
    } finally {
      process.env.OPENAI_BASE_URL = base;
    }
  });

  it("a second job for the same circuit is refused while one is queued", async () => {
    const circuitId = await labelledCircuit(env, { seed: 19 });
    await env.as.annotator.labels.start({ circuitId });
    await expect(env.as.annotator.labels.start({ circuitId })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(env.as.annotator.labels.cancel({ circuitId })).resolves.toMatchObject({ status: "canceled" });
  });
});
