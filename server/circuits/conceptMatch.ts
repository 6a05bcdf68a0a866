/**
 * A concept match's engine work (worker only: the engine is imported inside the function, so the
 * web process never loads TensorFlow.js): both circuits' documents, their registered models and
 * their images on this server, then the engine's `conceptMatch`.
 */
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuits, models } from "~/db/schema";
import type { ConceptMatchJobPayload } from "~/server/jobs/kinds/conceptMatch";
import type { ConceptMatchResult } from "~/server/neurflow/light";
import { conceptMatchProblem } from "./conceptMatchStore";
import { circuitImageDir } from "./graph";
import { exportCircuit } from "./store";

/** A failure no retry can fix (a circuit, its model or its images are gone). */
export class ConceptMatchInputError extends Error {
  override name = "ConceptMatchInputError";
}

export async function computeConceptMatch(
  db: Db,
  payload: ConceptMatchJobPayload,
  opts: { signal?: AbortSignal; onProgress?: (fraction: number, message: string) => void } = {},
): Promise<ConceptMatchResult> {
  for (const id of [payload.a, payload.b]) {
    const problem = conceptMatchProblem(db, id);
    if (problem) throw new ConceptMatchInputError(problem);
  }
  const engine = await import("~/server/neurflow");
  await engine.initBackend();
  const side = async (id: number) => {
    const circuit = exportCircuit(db, id);
    if (!circuit) throw new ConceptMatchInputError(`circuit ${id} no longer exists`);
    const manifestPath = db
      .select({ p: models.manifestPath })
      .from(circuits)
      .innerJoin(models, eq(models.id, circuits.modelId))
      .where(eq(circuits.id, id))
      .get()!.p;
    const dir = circuitImageDir(db, id)!;
    const model = await engine.loadModel(manifestPath);
    try {
      engine.checkModelMatches(circuit, model);
    } catch (e) {
      model.dispose();
      throw new ConceptMatchInputError(`circuit ${id}: ${(e as Error).message}`);
    }
    return { circuit, model, images: circuit.images.map((n) => join(dir, n)) };
  };
  const a = await side(payload.a);
  try {
    const b = await side(payload.b);
    try {
      return await engine.conceptMatch(a, b, {
        ...payload.params,
        signal: opts.signal,
        onProgress: (p) => opts.onProgress?.(p.total ? p.done / p.total : 0, p.message),
      });
    } finally {
      b.model.dispose();
    }
  } finally {
    a.model.dispose();
  }
}
