/**
 * A worker on another machine: the queue and the platform reached only through the web app's
 * internal API (docs/platform.md, "Deployment"), authenticated by a worker token, never the
 * database. `WorkerApiClient` makes the calls (JSON in, answers checked against
 * server/workers/protocol.ts; files streamed into the `FileCache`); `RemoteJobQueue` is the
 * worker's queue over it; `httpPlatform` the handlers' platform over it.
 *
 * A refused token (revoked, unknown) is final: `onRefused` is called once (the worker process
 * stops) and every call throws `WorkerApiError` with code "revoked"/"unauthorized". A platform that
 * does not answer (restarting, network) is retried a few times with back-off before the call fails.
 */
import { join } from "node:path";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { z } from "zod";
import type { JobKind } from "~/db/schema";
import { patchFromImageFile, rawOf } from "~/server/circuits/renders";
import { EvaluationInputError, type EvaluationInputs } from "~/server/evaluations/inputs";
import { HeatmapInputError, type HeatmapStore } from "~/server/heatmaps/inputs";
import { circuitSchema } from "~/server/neurflow/light";
import { StaleVersionError } from "~/server/labeling/store";
import { FilePatchSource, renderedFilePatchSource } from "~/server/labeling/grid";
import { LabelSetupError, type LabelStore } from "~/server/labeling/labelCircuit";
import {
  apiErrorSchema,
  filePath,
  WORKER_API_PATH,
  WORKER_OPS,
  type ApiErrorCode,
  type FileRef,
  type OpInput,
  type OpOutput,
  type WorkerOp,
} from "~/server/workers/protocol";
import type { WorkerQueue } from "../queue";
import { FileCache } from "./fileCache";
import type { WorkerPlatform } from "./port";
import type { RunParams } from "~/db/schema";

export class WorkerApiError extends Error {
  override name = "WorkerApiError";
  constructor(
    readonly code: ApiErrorCode | "unreachable" | "bad_answer",
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface WorkerApiOptions {
  /** The platform's origin, http(s)://host:port (NEURFLOW_PLATFORM_URL). */
  url: string;
  token: string;
  workerId: string;
  /** Called once when the platform refuses the token (revoked or unknown). */
  onRefused?: (error: WorkerApiError) => void;
  /** Tries of a call while the platform does not answer (default 5: about 6 s of back-off). */
  tries?: number;
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WorkerApiClient {
  readonly base: string;
  readonly workerId: string;
  private refused: WorkerApiError | null = null;
  private onRefused: ((e: WorkerApiError) => void) | undefined;

  constructor(private readonly opts: WorkerApiOptions) {
    this.base = new URL(WORKER_API_PATH, opts.url).href;
    this.workerId = opts.workerId;
    this.onRefused = opts.onRefused;
  }

  /** What to do when the platform refuses the token from now on (set once the worker has started). */
  setOnRefused(f: ((e: WorkerApiError) => void) | undefined): void {
    this.onRefused = f;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.opts.token}`, "x-neurflow-worker": this.workerId, ...extra };
  }

  /** One HTTP exchange, retried while the platform does not answer or answers 502-504. */
  private async exchange(path: string, init: RequestInit): Promise<Response> {
    if (this.refused) throw this.refused;
    const tries = this.opts.tries ?? 5;
    for (let attempt = 1; ; attempt++) {
      let res: Response | null = null;
      let failure: string;
      try {
        res = await fetch(this.base + path, {
          ...init,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
          redirect: "error",
        });
        if (![502, 503, 504].includes(res.status) || attempt >= tries) return res;
        failure = `HTTP ${res.status}`;
        await res.body?.cancel();
      } catch (e) {
        failure = (e as Error).cause
          ? String(((e as Error).cause as Error).message ?? (e as Error).cause)
          : (e as Error).message;
        if (attempt >= tries)
          throw new WorkerApiError("unreachable", `the platform at ${this.opts.url} does not answer: ${failure}`);
      }
      await sleep(Math.min(3000, 200 * 2 ** (attempt - 1)));
    }
  }

  /** Turns a refused answer into a WorkerApiError (and remembers a refused token). */
  private async refusal(res: Response, what: string): Promise<WorkerApiError> {
    const text = await res.text().catch(() => "");
    let body: z.infer<typeof apiErrorSchema> | null = null;
    try {
      const parsed = apiErrorSchema.safeParse(JSON.parse(text));
      if (parsed.success) body = parsed.data;
    } catch {
      /* not JSON */
    }
    const err = new WorkerApiError(
      body?.code ?? (res.status === 401 ? "unauthorized" : "internal"),
      `${what}: ${body?.error ?? `HTTP ${res.status} ${text.slice(0, 200)}`}`,
      res.status,
    );
    if (res.status === 401 && !this.refused) {
      this.refused = err;
      this.onRefused?.(err);
    }
    return err;
  }

  async call<O extends WorkerOp>(op: O, input: Omit<OpInput<O>, "workerId">): Promise<OpOutput<O>> {
    const res = await this.exchange(`/rpc/${op}`, {
      method: "POST",
      headers: this.headers({ "content-type": "application/json" }),
      body: JSON.stringify({ ...input, workerId: this.workerId }),
    });
    if (!res.ok) throw await this.refusal(res, op);
    const parsed = WORKER_OPS[op].output.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success)
      throw new WorkerApiError("bad_answer", `${op}: the platform's answer does not have the expected shape`);
    return parsed.data as OpOutput<O>;
  }

  /** A listed file's body, streamed. */
  async file(ref: FileRef): Promise<WebReadableStream<Uint8Array>> {
    const res = await this.exchange(filePath(ref), { method: "GET", headers: this.headers() });
    if (!res.ok || !res.body) throw await this.refusal(res, `file ${ref.name}`);
    return res.body as unknown as WebReadableStream<Uint8Array>;
  }
}

/** The worker's queue over the API: every call is the platform's queue's own, for this worker. */
export class RemoteJobQueue implements WorkerQueue {
  constructor(
    private readonly api: WorkerApiClient,
    /** Called when a claim returns a job (the worker starts a new one). */
    private readonly onClaimed: () => void = () => {},
  ) {}

  private own(workerId: string): void {
    if (workerId !== this.api.workerId)
      throw new Error(`this queue speaks for worker ${this.api.workerId}, not ${workerId}`);
  }

  reapExpired: WorkerQueue["reapExpired"] = async () =>
    (await this.api.call("reapExpired", {})) as Awaited<ReturnType<WorkerQueue["reapExpired"]>>;
  claim: WorkerQueue["claim"] = async (workerId, opts) => {
    this.own(workerId);
    const kinds = (opts.kinds ?? []) as JobKind[];
    const job = (await this.api.call("claim", { kinds, leaseMs: opts.leaseMs })) as Awaited<
      ReturnType<WorkerQueue["claim"]>
    >;
    if (job) this.onClaimed();
    return job;
  };
  renew: WorkerQueue["renew"] = async (jobId, workerId, leaseMs) => {
    this.own(workerId);
    return this.api.call("renew", { jobId, leaseMs });
  };
  progress: WorkerQueue["progress"] = async (jobId, workerId, update) => {
    this.own(workerId);
    return this.api.call("progress", { jobId, update });
  };
  log: WorkerQueue["log"] = async (jobId, workerId, message, data) => {
    this.own(workerId);
    return this.api.call("log", { jobId, message, data });
  };
  checkpoint: WorkerQueue["checkpoint"] = async (jobId, workerId, checkpoint, data) => {
    this.own(workerId);
    return this.api.call("checkpoint", { jobId, checkpoint, data });
  };
  complete: WorkerQueue["complete"] = async (jobId, workerId, result) => {
    this.own(workerId);
    return this.api.call("complete", { jobId, result: result ?? null });
  };
  fail: WorkerQueue["fail"] = async (jobId, workerId, error, opts = {}) => {
    this.own(workerId);
    return this.api.call("fail", { jobId, error: error.slice(0, 20_000), retryable: opts.retryable !== false });
  };
  markCanceled: WorkerQueue["markCanceled"] = async (jobId, workerId) => {
    this.own(workerId);
    return this.api.call("markCanceled", { jobId });
  };
}

/** The handlers' platform over the API; files land in `cache`. */
export function httpPlatform(api: WorkerApiClient, cache: FileCache): WorkerPlatform {
  const labels: LabelStore = {
    async open(circuitId) {
      const r = await api.call("labelInputs", { circuitId });
      if (!r.ok) throw new LabelSetupError(r.error);
      const dir = await cache.folder(r.files);
      const files = r.files.map((f) => join(dir, f.name));
      const boxes = r.data.patches;
      return {
        data: r.data,
        source:
          r.mode === "rendered"
            ? renderedFilePatchSource(files, r.data.inputSize, boxes)
            : new FilePatchSource(files, r.data.inputSize, boxes),
      };
    },
    async head(t) {
      return api.call("labelHead", { circuitId: t.circuitId, target: t.target });
    },
    async save(t, rev) {
      const { now: _now, authorId: _author, source: _source, ...revision } = rev;
      const r = await api.call("labelSave", { circuitId: t.circuitId, target: t.target, revision });
      if (!r.saved) throw new StaleVersionError(r.expected, r.current);
    },
  };
  const heatmaps: HeatmapStore = {
    async open(circuitId, group, jobId) {
      if (jobId == null) throw new Error("a remote worker computes heatmaps for a job only");
      const r = await api.call("heatmapInputs", { circuitId, group });
      if (!r.ok) throw new HeatmapInputError(r.error);
      const modelDir = await cache.folder(r.model.files);
      const imageDir = r.images ? await cache.folder(r.images) : null;
      const listed = new Set(r.images?.map((f) => f.name));
      const patches = new Map(r.patches.map((p) => [p.idx, p]));
      return {
        layer: r.layer,
        neurons: r.neurons,
        patches: r.patches.map((p) => p.idx),
        manifestPath: join(modelDir, r.model.manifest),
        async patchRaw(idx) {
          const p = patches.get(idx);
          if (!p) throw new HeatmapInputError(`no patch ${idx} in group ${group}`);
          if (!imageDir || !listed.has(p.image)) return null;
          return rawOf(
            await patchFromImageFile(join(imageDir, p.image), { ...p, inputSize: r.inputSize }),
            r.inputSize,
          );
        },
        async save(idx, rgba) {
          await api.call("storeHeatmap", { jobId, idx, rgba: rgba.toString("base64") });
        },
      };
    },
  };
  const evaluations: EvaluationInputs = {
    async circuit(circuitId) {
      const r = await api.call("evaluationCircuit", { circuitId });
      if (!r.ok) throw new EvaluationInputError(r.error);
      const doc = circuitSchema.safeParse(r.circuit);
      if (!doc.success)
        throw new WorkerApiError(
          "bad_answer",
          `evaluationCircuit: circuit ${circuitId} is not a neurflow-circuit/1 document`,
        );
      const dir = await cache.folder(r.model.files);
      return { doc: doc.data, manifestPath: join(dir, r.model.manifest) };
    },
    async circuitImages(circuitId) {
      const files = await api.call("evaluationImages", { circuitId });
      return files ? cache.folder(files) : null;
    },
    async imageSet(circuitId, set, count) {
      const files = await api.call("imageSetFiles", { circuitId, set, count });
      if (!files)
        throw new EvaluationInputError(`cannot read the evaluation images: image set ${set} is not on the platform`);
      return cache.folder(files);
    },
    debugSource: (circuitId, evaluationId) => api.call("evaluationSource", { circuitId, evaluationId }),
    visibility: (circuitId) => api.call("evaluationGraph", { circuitId }),
    async otherClassImages(datasetId, exclude, cap) {
      const r = await api.call("otherClassImages", { datasetId, exclude, cap });
      if (!r) return null;
      return {
        datasetName: r.datasetName,
        images: r.images.map((ref) => ({
          className: ref.scope.kind === "dataset" ? ref.scope.className : "",
          fileName: ref.name,
          path: () => cache.blob(ref),
        })),
      };
    },
    async storeImageSet(jobId, _circuitId, raws) {
      if (jobId == null) throw new Error("a remote worker stores image sets for a job only");
      const r = await api.call("storeImageSet", { jobId, images: raws.map((b) => b.toString("base64")) });
      return r.set;
    },
    async store(jobId, _target, outcome) {
      if (jobId == null) throw new Error("a remote worker stores evaluation results for a job only");
      const r = await api.call("storeEvaluation", {
        jobId,
        params: outcome.params,
        result: outcome.result as { kind: string },
        seconds: outcome.seconds,
      });
      return r.evaluationId;
    },
  };
  return {
    where: api.base.replace(/\/api\/internal\/worker$/, ""),
    async circuitRun(runId) {
      const r = await api.call("circuitRun", { runId });
      if (!r.ok) return r;
      const [modelDir, images] = [await cache.folder(r.model.files), await cache.folder(r.images)];
      return {
        ok: true,
        runId,
        className: r.run.className,
        layers: r.run.layers,
        params: r.run.params as RunParams,
        layerTimings: r.run.layerTimings,
        startedAt: r.run.startedAt,
        modelId: r.model.id,
        manifestPath: join(modelDir, r.model.manifest),
        images,
      };
    },
    async updateRun(runId, patch) {
      await api.call("updateRun", { runId, patch });
    },
    async storeCircuit(runId, circuit) {
      return (await api.call("storeCircuit", { runId, circuit })).circuitId;
    },
    async modelForCheck(modelId) {
      const r = await api.call("modelFiles", { modelId });
      if (!r) return null;
      const dir = await cache.folder(r.files);
      return { manifestPath: join(dir, r.manifest), dir };
    },
    async setModelStatus(modelId, status, message) {
      await api.call("setModelStatus", { modelId, status, message: message.slice(0, 10_000) });
    },
    labels,
    heatmaps,
    evaluations,
  };
}
