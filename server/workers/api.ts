/**
 * The internal worker API (app/api/internal/worker/[...path]/route.ts): what a worker on another
 * machine reads and writes instead of opening the database. In the order that keeps an
 * unauthenticated caller from costing anything:
 *
 *   1. the worker token (`Authorization: Bearer nfw_…`) is checked before anything is read; a
 *      missing, unknown or revoked token is 401 (a session cookie is no token: user accounts never
 *      reach these routes, and worker tokens reach nothing else);
 *   2. `POST rpc/<op>`: the JSON body is read up to NEURFLOW_MAX_WORKER_JSON_BYTES (64 MiB; a
 *      declared larger one is refused before reading), parsed, and checked against the op's schema
 *      (server/workers/protocol.ts); the worker id must be one this token registered (`hello`);
 *   3. `GET files/…`: a listed model or dataset file, streamed (server/workers/files.ts).
 *
 * The queue calls are the platform's own `JobQueue` (SQLite or BullMQ) on the worker's behalf, so
 * leases, fencing and the one-circuit-per-run rule hold exactly as for a local worker.
 */
import type { z } from "zod";
import type { Db } from "~/db/client";
import { circuitSchema } from "~/server/neurflow/light";
import { loadCircuitForLabels } from "~/server/labeling/circuitData";
import { getHead, LabelTargetError, resolveTarget, saveRevision, StaleVersionError } from "~/server/labeling/store";
import { describeQueue, queueConfig } from "~/server/jobs/queueConfig";
import type { JobQueue } from "~/server/jobs/queue";
import { circuitRunRecord, setModelStatusRow, storeRunCircuit, updateRunRow } from "~/server/jobs/platform/local";
import { limitRequest } from "~/server/api/requestLimit";
import { limits } from "~/server/storage/limits";
import { circuitImageRefs, classImageRefs, FileRefused, modelFileRefs, openListedFile } from "./files";
import { WORKER_OPS, type ApiErrorCode, type OpOutput, type WorkerOp } from "./protocol";
import { registerWorker, touchWorker, workerBelongsTo, workerStopped } from "./registry";
import { checkWorkerToken, workerTokenMessage } from "./tokens";

export interface WorkerApiDeps {
  db: Db;
  queue: JobQueue;
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

function operations(deps: WorkerApiDeps): Ops {
  const { db, queue } = deps;
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
  const auth = checkWorkerToken(deps.db, req.headers.get("authorization"));
  if (auth.status !== "ok")
    return refuse(401, auth.status === "revoked" ? "revoked" : "unauthorized", workerTokenMessage(auth), {
      "www-authenticate": 'Bearer realm="neurflow-worker"',
    });

  if (segments[0] === "files") {
    if (req.method !== "GET") return refuse(405, "bad_request", "files are read with GET");
    try {
      const f = await openListedFile(deps.db, segments.slice(1));
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
