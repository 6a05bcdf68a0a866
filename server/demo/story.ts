/**
 * The demo's story, for the home page: the names `npm run demo` registers its four toy-world models
 * and two datasets under (scripts/demo.ts uses these constants), and where each model's bee circuit
 * stands (stored, or its run still queued / running), so the page can lead a newcomer from "why does
 * the flowers model say bee?" to the circuit, the class-dependence evidence and the compare with
 * the cue-free control in a few clicks.
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuits, models, runs } from "~/db/schema";

export const DEMO_MODELS = {
  /** World 1 (`models/toyworld`, or the parity fixture when absent): flowers beside 80% of the bees. */
  demo: ["toyworld (demo)", "toyworld-a (demo)"],
  /** World 1's control (`models/toyworld-control`): flowers as common in every class. */
  demoControl: ["toyworld-control: cue-free control (demo)"],
  /** World 5 (`models/toyworld5`): flowers beside 95% of the bees, most bees far and tiny. */
  flowers: ["toyworld5: flowers beside the bees (demo)"],
  /** World 5's control (`models/toyworld5-control`). */
  flowersControl: ["toyworld5-control: cue-free control (demo)"],
} as const;

export const DEMO_DATASET = "toy-world images (demo)";
export const FLOWERS_DATASET = "world-5 images (demo)";
/** The class every demo run explains. */
export const DEMO_CLASS = "bee";

export interface StoryModel {
  modelId: number;
  name: string;
  /** The newest stored bee circuit of the model. */
  circuitId: number | null;
  /** The newest bee run, when no circuit is stored yet (its page shows the progress). */
  run: { id: number; status: string } | null;
}

export type DemoStory = Record<keyof typeof DEMO_MODELS, StoryModel | null>;

function storyModel(db: Db, names: readonly string[]): StoryModel | null {
  const m = db
    .select({ id: models.id, name: models.name })
    .from(models)
    .where(inArray(models.name, [...names]))
    .orderBy(desc(models.id))
    .get();
  if (!m) return null;
  const c = db
    .select({ id: circuits.id })
    .from(circuits)
    .where(and(eq(circuits.modelId, m.id), eq(circuits.className, DEMO_CLASS)))
    .orderBy(desc(circuits.id))
    .get();
  const r = c
    ? undefined
    : db
        .select({ id: runs.id, status: runs.status })
        .from(runs)
        .where(and(eq(runs.modelId, m.id), eq(runs.className, DEMO_CLASS)))
        .orderBy(desc(runs.id))
        .get();
  return { modelId: m.id, name: m.name, circuitId: c?.id ?? null, run: r ?? null };
}

/** The demo's models as this database holds them; null when the flowers model is not registered (not a demo database). */
export function demoStory(db: Db): DemoStory | null {
  const story = Object.fromEntries(
    (Object.keys(DEMO_MODELS) as (keyof typeof DEMO_MODELS)[]).map((k) => [k, storyModel(db, DEMO_MODELS[k])]),
  ) as DemoStory;
  return story.flowers ? story : null;
}
