/**
 * The internal worker API (app/api/internal/worker/[...path]/route.ts): what a worker on another
 * machine reads and writes instead of opening the database. In the order that keeps an
 * unauthenticated caller from costing anything:
 *
 *   1. the worker token (`Authorization: Bearer nfw_…`) is checked before anything is read; a
 *      missing, unknown or revoked token is 401 (a session cookie is no token: user accounts never
 *      reach these routes, and worker tokens reach nothing else) and counts towards the address's
 *      block (server/security/rateLimit.ts, WorkerTokenGuard): a blocked address is answered 429
 *      before its token is looked up;
 *   2. `POST rpc/<op>`: the JSON body is read up to NEURFLOW_MAX_WORKER_JSON_BYTES (64 MiB; a
 *      declared larger one is refused before reading), parsed, and checked against the op's schema
 *      (server/workers/protocol.ts); the worker id must be one this token registered (`hello`);
 *   3. `GET files/…`: a listed model, dataset or evaluation image-set file, streamed (server/workers/files.ts).
 *
 * What a worker writes besides the queue is checked against what the platform already knows: a
 * heatmap, an image set or an evaluation result is accepted only for a job of that kind that this
 * worker holds (running, its lease), for the circuit and group its payload names (never the
 * worker's word), at the exact size the circuit's model takes, and stored by the same functions a
 * local worker uses.
 *
 * The queue calls are the platform's own `JobQueue` (SQLite or BullMQ) on the worker's behalf, so
 * leases, fencing and the one-circuit-per-run rule hold exactly as for a local worker.
 */
import { asc, eq } from "drizzle-orm";
import { existsSync } from "node:fs";
import type { z } from "zod";
import type { Db } from "~/db/client";
import { circuitImages, circuits, type JobKind } from "~/db/schema";
import { circuitImageDir, patchWithImage } from "~/server/circuits/graph";
import {
  debugSourceOf,
  EvaluationInputError,
  evaluationCircuitDoc,
  evaluationModel,
  otherClassRows,
  visibilityOf,
} from "~/server/evaluations/inputs";
import { imageSetDir, storeEvaluation } from "~/server/evaluations/store";
import { writeImageSet } from "~/server/evaluations/uploads";
import { heatmapGroupFacts, saveHeatmap } from "~/server/heatmaps/inputs";
import { evaluationJob, imageSetIdPattern } from "~/server/jobs/kinds/evaluation";
import { heatmapsJob } from "~/server/jobs/kinds/heatmaps";
import { clientAddress } from "~/server/security/clientAddress";
import { RateLimited, workerTokenGuard } from "~/server/security/rateLimit";
import { storageRoot } from "~/server/storage/paths";
import { circuitSchema } from "~/server/neurflow/light";
import { loadCircuitForLabels } from "~/server/labeling/circuitData";
import { getHead, LabelTargetError, resolveTarget, saveRevision, StaleVersionError } from "~/server/labeling/store";
import { describeQueue, queueConfig } from "~/server/jobs/queueConfig";
import type { JobQueue } from "~/server/jobs/queue";
import { circuitRunRecord, setModelStatusRow, storeRunCircuit, updateRunRow } from "~/server/jobs/platform/local";
import { limitRequest } from "~/server/api/requestLimit";
import { limits } from "~/server/storage/limits";
import {
  circuitImageRefs,
  classImageRefs,
  datasetImageRefs,
  FileRefused,
  imageSetRefs,
  modelFileRefs,
  openListedFile,
} from "./files";
import { WORKER_OPS, type ApiErrorCode, type OpOutput, type WorkerOp } from "./protocol";
import { registerWorker, touchWorker, workerBelongsTo, workerStopped } from "./registry";
import { checkWorkerToken, workerTokenMessage } from "./tokens";

export interface WorkerApiDeps {
  db: Db;
  queue: JobQueue;
  /** The storage folder (heatmaps, evaluation image sets); NEURFLOW_DATA by default. */
  root?: string;
}

function refuse(status: number, code: ApiErrorCode, error: string, headers?: Record<string, string>): Response {
  return Response.json({ error, code }, { status, headers: { "cache-control": "no-store", ...headers } });
}

class OpRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function issuesText(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Claims are made one at a time in this process (BullMQ's manual fetch on one shared worker object). */
let claimChain: Promise<unknown> = Promise.resolve();
function serialised<T>(f: () => Promise<T>): Promise<T> {
  const p = claimChain.then(f, f);
  claimChain = p.catch(() => {});
  return p;
}

async function queueAnswers(queue: JobQueue): Promise<string | null> {
  const ping = (queue as { ping?: (ms: number) => Promise<void> }).ping;
  if (typeof ping !== "function") return null;
  try {
    await ping.call(queue, 3000);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

type OpParsed<O extends WorkerOp> = z.output<(typeof WORKER_OPS)[O]["input"]>;
type Ops = { [O in WorkerOp]: (input: OpParsed<O>, ctx: { tokenId: number }) => Promise<OpOutput<O>> };

/** The job `jobId` when it is a `kind` job this worker holds (running, its lease); else refused. */
async function heldJob(queue: JobQueue, jobId: number, workerId: string, kind: JobKind) {
  const job = await queue.get(jobId);
  if (!job || job.kind !== kind || job.status !== "running" || job.leaseOwner !== workerId)
    throw new OpRefused(409, "not_held", `job ${jobId} is not a ${kind} job this worker holds`);
  return job;
}

/** The model input size of a circuit (its images' side at the model). */
function inputSizeOf(db: Db, circuitId: number): number {
  const c = db.select({ s: circuits.modelInputSize }).from(circuits).where(eq(circuits.id, circuitId)).get();
  if (!c) throw new OpRefused(404, "not_found", `circuit ${circuitId} no longer exists`);
  return c.s;
}

/** Decodes base64 raw pixels of exactly `bytes` bytes. */
function rawPixels(b64: string, bytes: number, what: string): Buffer {
  const raw = Buffer.from(b64, "base64");
  if (raw.length !== bytes) throw new OpRefused(400, "bad_request", `${what}: ${raw.length} bytes, expected ${bytes}`);
  return raw;
}

/** The circuit's images in its run's dataset (what a local worker reads in its class folder), or null. */
async function circuitImagesInRunDataset(db: Db, circuitId: number, names: string[]) {
  if (names.length === 0 || !circuitImageDir(db, circuitId)) return null;
  const refs = await circuitImageRefs(db, circuitId, names);
  return refs?.mode === "rendered" ? refs.files : null;
}

function operations(deps: WorkerApiDeps): Ops {
  const { db, queue } = deps;
  const root = deps.root ?? storageRoot();
  return {
    async hello(input, { tokenId }) {
      registerWorker(db, tokenId, input);
      const queueError = await queueAnswers(queue);
      let where: string;
      try {
        where = describeQueue(queueConfig());
      } catch (e) {
        where = (e as Error).message;
      }
      return { queue: where, queueOk: queueError == null, queueError };
    },
    async bye(input) {
      workerStopped(db, input.workerId);
      return { ok: true as const };
    },
    async reapExpired(input) {
      touchWorker(db, input.workerId);
      return queue.reapExpired();
    },
    async claim(input) {
      const job = await serialised(() => queue.claim(input.workerId, { kinds: input.kinds, leaseMs: input.leaseMs }));
      touchWorker(db, input.workerId, job?.id ?? null);
      return job;
    },
    async renew(input) {
      touchWorker(db, input.workerId, input.jobId);
      return queue.renew(input.jobId, input.workerId, input.leaseMs);
    },
    progress: (input) => queue.progress(input.jobId, input.workerId, input.update),
    log: (input) => queue.log(input.jobId, input.workerId, input.message, input.data),
    checkpoint: (input) => queue.checkpoint(input.jobId, input.workerId, input.checkpoint ?? null, input.data),
    async complete(input) {
      const ok = await queue.complete(input.jobId, input.workerId, input.result ?? null);
      touchWorker(db, input.workerId, null);
      return ok;
    },
    async fail(input) {
      const r = await queue.fail(input.jobId, input.workerId, input.error, { retryable: input.retryable });
      touchWorker(db, input.workerId, null);
      return r;
    },
    async markCanceled(input) {
      const ok = await queue.markCanceled(input.jobId, input.workerId);
      touchWorker(db, input.workerId, null);
      return ok;
    },

    async circuitRun(input) {
      const r = circuitRunRecord(db, input.runId);
      if (!r.ok) return r;
      const model = await modelFileRefs(db, r.model.id);
      if (!model) return { ok: false as const, error: `the model or dataset of run ${input.runId} was deleted` };
      return {
        ok: true as const,
        run: {
          id: r.run.id,
          className: r.run.className,
          layers: r.run.layers,
          params: r.run.params,
          layerTimings: r.run.layerTimings,
          startedAt: r.run.startedAt,
        },
        model: { id: r.model.id, ...model },
        images: await classImageRefs(db, r.dataset.id, r.run.className),
      };
    },
    async updateRun(input) {
      updateRunRow(db, input.runId, input.patch);
      return { ok: true as const };
    },
    async storeCircuit(input) {
      const checked = circuitSchema.safeParse(input.circuit);
      if (!checked.success)
        throw new OpRefused(400, "bad_request", `not a neurflow-circuit/1 document: ${issuesText(checked.error)}`);
      try {
        return { circuitId: storeRunCircuit(db, input.runId, checked.data) };
      } catch (e) {
        throw new OpRefused(400, "bad_request", (e as Error).message);
      }
    },
    modelFiles: (input) => modelFileRefs(db, input.modelId),
    async setModelStatus(input) {
      setModelStatusRow(db, input.modelId, input.status, input.message);
      return { ok: true as const };
    },
    async labelInputs(input) {
      const data = loadCircuitForLabels(db, input.circuitId);
      if (!data) return { ok: false as const, error: `circuit ${input.circuitId} no longer exists` };
      const images = await circuitImageRefs(db, input.circuitId, data.imageNames);
      if (!images)
        return {
          ok: false as const,
          error: `the images of circuit ${input.circuitId} (class "${data.className}") are not in any registered dataset`,
        };
      return { ok: true as const, data, ...images };
    },
    async labelHead(input) {
      return getHead(db, resolved(db, input.circuitId, input.target));
    },
    async labelSave(input) {
      try {
        saveRevision(db, resolved(db, input.circuitId, input.target), { ...input.revision, source: "model" });
        return { saved: true as const };
      } catch (e) {
        if (e instanceof StaleVersionError) return { saved: false as const, expected: e.expected, current: e.current };
        throw e;
      }
    },

    async heatmapInputs(input) {
      const facts = heatmapGroupFacts(db, input.circuitId, input.group);
      if (!facts.ok) return facts;
      const model = await modelFileRefs(db, facts.modelId);
      if (!model)
        return { ok: false as const, error: `model ${facts.modelId} of circuit ${input.circuitId} was deleted` };
      const patches = facts.patches.map((idx) => {
        const p = patchWithImage(db, input.circuitId, idx);
        if (!p) throw new OpRefused(404, "not_found", `no patch ${idx} in circuit ${input.circuitId}`);
        return { idx, image: p.imageName, x: p.x, y: p.y, size: p.size };
      });
      const names = [...new Set(patches.map((p) => p.image))];
      return {
        ok: true as const,
        layer: facts.layer,
        neurons: facts.neurons,
        inputSize: inputSizeOf(db, input.circuitId),
        patches,
        model: { id: facts.modelId, ...model },
        images: await circuitImagesInRunDataset(db, input.circuitId, names),
      };
    },
    async storeHeatmap(input) {
      const job = await heldJob(queue, input.jobId, input.workerId, "heatmaps");
      const { circuitId, group } = heatmapsJob.payload.parse(job.payload);
      const facts = heatmapGroupFacts(db, circuitId, group);
      if (!facts.ok) throw new OpRefused(404, "not_found", facts.error);
      if (!facts.patches.includes(input.idx))
        throw new OpRefused(400, "bad_request", `patch ${input.idx} is not a concept patch of group ${group}`);
      const S = inputSizeOf(db, circuitId);
      await saveHeatmap(root, circuitId, group, input.idx, rawPixels(input.rgba, S * S * 4, "the heatmap"), S);
      return { ok: true as const };
    },
    async evaluationCircuit(input) {
      try {
        const circuit = evaluationCircuitDoc(db, input.circuitId);
        const m = evaluationModel(db, input.circuitId);
        const files = await modelFileRefs(db, m.id);
        if (!files) return { ok: false as const, error: `model ${m.id} of circuit ${input.circuitId} was deleted` };
        return { ok: true as const, circuit, model: { id: m.id, ...files } };
      } catch (e) {
        if (e instanceof EvaluationInputError) return { ok: false as const, error: e.message };
        throw e;
      }
    },
    async evaluationImages(input) {
      const names = db
        .select({ name: circuitImages.name })
        .from(circuitImages)
        .where(eq(circuitImages.circuitId, input.circuitId))
        .orderBy(asc(circuitImages.idx))
        .all()
        .map((r) => r.name);
      return circuitImagesInRunDataset(db, input.circuitId, names);
    },
    imageSetFiles: (input) => imageSetRefs(root, input.circuitId, input.set, input.count),
    evaluationSource: async (input) => {
      const src = debugSourceOf(db, input.circuitId, input.evaluationId);
      return src && imageSetIdPattern.test(src.set) ? src : null;
    },
    evaluationGraph: async (input) => visibilityOf(db, input.circuitId),
    async otherClassImages(input) {
      const ds = otherClassRows(db, input.datasetId, input.exclude, input.cap);
      if (!ds) return null;
      try {
        return { datasetName: ds.name, images: await datasetImageRefs(db, input.datasetId, ds.rows) };
      } catch (e) {
        throw new OpRefused(404, "not_found", `dataset ${input.datasetId}: ${(e as Error).message}`);
      }
    },
    async storeImageSet(input) {
      const job = await heldJob(queue, input.jobId, input.workerId, "evaluation");
      const p = evaluationJob.payload.parse(job.payload);
      if (p.kind !== "imageDebug" || p.source.kind !== "falsePositives")
        throw new OpRefused(400, "bad_request", "only image debugging of false positives stores an image set");
      if (input.images.length > p.source.limit)
        throw new OpRefused(
          400,
          "bad_request",
          `${input.images.length} images; the job asked for at most ${p.source.limit}`,
        );
      const S = inputSizeOf(db, p.circuitId);
      const raws = input.images.map((b, i) => rawPixels(b, S * S * 3, `image ${i}`));
      return { set: await writeImageSet(root, p.circuitId, raws, S) };
    },
    async storeEvaluation(input) {
      const job = await heldJob(queue, input.jobId, input.workerId, "evaluation");
      const p = evaluationJob.payload.parse(job.payload);
      if (input.result.kind !== p.kind)
        throw new OpRefused(400, "bad_request", `a ${input.result.kind} result for a ${p.kind} job`);
      if (p.kind === "imageDebug") {
        const set = (input.result as { set?: unknown }).set;
        if (typeof set !== "string" || !imageSetIdPattern.test(set) || !existsSync(imageSetDir(root, p.circuitId, set)))
          throw new OpRefused(400, "bad_request", "the result names no stored image set of this circuit");
      }
      const evaluationId = storeEvaluation(db, {
        circuitId: p.circuitId,
        kind: p.kind,
        createdBy: p.createdBy,
        params: input.params,
        result: input.result,
        seconds: input.seconds,
        jobId: input.jobId,
      });
      return { evaluationId };
    },
  };
}

function resolved(db: Db, circuitId: number, target: Parameters<typeof resolveTarget>[2]) {
  try {
    return resolveTarget(db, circuitId, target);
  } catch (e) {
    if (e instanceof LabelTargetError) throw new OpRefused(404, "not_found", e.message);
    throw e;
  }
}

export async function handleWorkerApi(req: Request, segments: string[], deps: WorkerApiDeps): Promise<Response> {
  const ip = clientAddress(req.headers);
  const guard = workerTokenGuard();
  try {
    await guard.check(ip);
  } catch (e) {
    if (e instanceof RateLimited)
      return refuse(429, "rate_limited", e.message, { "retry-after": String(e.retryAfterS) });
    throw e;
  }
  const auth = checkWorkerToken(deps.db, req.headers.get("authorization"));
  if (auth.status !== "ok") await guard.failed(ip);
  if (auth.status !== "ok")
    return refuse(401, auth.status === "revoked" ? "revoked" : "unauthorized", workerTokenMessage(auth), {
      "www-authenticate": 'Bearer realm="neurflow-worker"',
    });

  if (segments[0] === "files") {
    if (req.method !== "GET") return refuse(405, "bad_request", "files are read with GET");
    try {
      const f = await openListedFile(deps.db, deps.root ?? storageRoot(), segments.slice(1));
      return new Response(f.stream, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(f.size),
          "cache-control": "no-store",
        },
      });
    } catch (e) {
      if (e instanceof FileRefused)
        return refuse(
          e.status,
          e.status === 404 ? "not_found" : e.status === 413 ? "too_large" : "bad_request",
          e.message,
        );
      throw e;
    }
  }

  if (segments[0] !== "rpc" || segments.length !== 2) return refuse(404, "not_found", "no such worker route");
  const op = segments[1]!;
  if (!Object.hasOwn(WORKER_OPS, op)) return refuse(404, "not_found", `no worker call "${op}"`);
  if (req.method !== "POST") return refuse(405, "bad_request", "worker calls are POST requests");
  const limited = await limitRequest(req, limits.workerJsonBytes);
  if (limited instanceof Response) {
    const body = (await limited.json().catch(() => ({}))) as { error?: string };
    return refuse(limited.status, limited.status === 413 ? "too_large" : "bad_request", body.error ?? "refused");
  }
  let json: unknown;
  try {
    json = await limited.json();
  } catch {
    return refuse(400, "bad_request", "the body is not JSON");
  }
  const spec = WORKER_OPS[op as WorkerOp];
  const input = spec.input.safeParse(json);
  if (!input.success) return refuse(400, "bad_request", `${op}: ${issuesText(input.error)}`);
  const workerId = (input.data as { workerId: string }).workerId;
  if (op !== "hello" && !workerBelongsTo(deps.db, workerId, auth.tokenId))
    return refuse(403, "bad_request", `worker ${workerId} did not register with this token (call hello first)`);
  try {
    const run = operations(deps)[op as WorkerOp] as (i: unknown, c: { tokenId: number }) => Promise<unknown>;
    const out = await run(input.data, { tokenId: auth.tokenId });
    return Response.json(out ?? null, { headers: { "cache-control": "no-store" } });
  } catch (e) {
    if (e instanceof OpRefused) return refuse(e.status, e.code, e.message);
    console.error(`[worker api] ${op}:`, e);
    return refuse(500, "internal", `${op} failed on the platform; the details are in its log`);
  }
}
