/**
 * End-to-end helpers of the labeling tests (the platform, the build and the browser come from
 * ./helpers.ts): a local OpenAI-compatible server in the test process that the worker process
 * calls, and a stored circuit whose class images are registered as a dataset, written straight
 * into the platform's database.
 */
import { join } from "node:path";
import { datasets, images } from "~/db/schema";
import { importCircuit } from "~/server/circuits/store";
import { loadCircuitForLabels, type CircuitForLabels } from "~/server/labeling/circuitData";
import { startFakeOpenAI, type FakeOpenAI, type RecordedRequest, type FakeReply } from "../helpers/fakeOpenAI";
import { writeClassImages } from "../helpers/labelsFixture";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { createUser, type Credentials, type Platform } from "./helpers";

export const LABEL_MODEL = "fake-vlm-e2e";
export const ANNOTATOR: Credentials = { username: "annotator1", password: "annotator-password-e2e" };
export const ANNOTATOR2: Credentials = { username: "annotator2", password: "annotator2-password-e2e" };
export const VIEWER: Credentials = { username: "viewer1", password: "viewer-password-e2e" };

/** The local MLLM: answers `respond`, recording every request. */
export async function startLabelServer(respond: (r: RecordedRequest) => FakeReply): Promise<FakeOpenAI> {
  return startFakeOpenAI(respond);
}

/** Environment of the server and worker processes pointing labeling at the fake server. */
export function labelEnv(fake: FakeOpenAI): Record<string, string> {
  return {
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: "e2e-key",
    NEURFLOW_LABEL_MODEL: LABEL_MODEL,
    NEURFLOW_LABEL_BACKOFF_MS: "20",
    NEURFLOW_LABEL_TIMEOUT_MS: "5000",
  };
}

export async function createLabelUsers(platform: Platform): Promise<void> {
  await createUser(platform, { ...ANNOTATOR, role: "annotator" });
  await createUser(platform, { ...ANNOTATOR2, role: "annotator" });
  await createUser(platform, { ...VIEWER, role: "viewer" });
}

/** A synthetic circuit (class bee) stored in the platform's database, its images on disk as a dataset. */
export async function seedCircuit(
  platform: Platform,
  seed = 31,
): Promise<{ circuitId: number; data: CircuitForLabels }> {
  const db = platform.db();
  const dir = join(platform.dir, "label-images");
  const doc = syntheticCircuit({ seed, images: 4 });
  await writeClassImages(dir, "bee", doc.images.length);
  const ds = db
    .insert(datasets)
    .values({
      name: "label e2e images",
      source: "folder",
      dir,
      classCount: 1,
      imageCount: doc.images.length,
      createdAt: Date.now(),
    })
    .returning()
    .get();
  db.insert(images)
    .values(
      doc.images.map((fileName) => ({
        datasetId: ds.id,
        className: "bee",
        fileName,
        width: 64,
        height: 64,
        format: "png",
        sizeBytes: 1,
      })),
    )
    .run();
  const circuitId = importCircuit(db, doc);
  return { circuitId, data: loadCircuitForLabels(db, circuitId)! };
}
