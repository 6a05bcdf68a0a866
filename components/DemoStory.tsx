/**
 * The home page's "start here" for a demo database: the question the demo answers ("why does the
 * flowers model say bee?") as three steps, each one click away — the circuit (what the bee logit's
 * groups see), the class-dependence evidence (which groups the class needs, against random neuron
 * sets), and the compare with the cue-free control (the flowers group present in one, absent in the
 * other) — plus the same for the demo model of world 1. A step whose circuit is still being
 * computed links to its run's progress instead.
 */
import Link from "next/link";
import type { DemoStory as Story, StoryModel } from "~/server/demo/story";

/** Where a circuit's class-dependence report is read (and started). */
export function dependenceHref(circuitId: number): string {
  return `/circuits/${circuitId}/dependence`;
}

const link = "font-medium text-blue-700 hover:underline dark:text-blue-400";

function Pending({ m }: { m: StoryModel | null }) {
  if (!m) return <span className="text-zinc-500">not registered in this database</span>;
  if (m.run)
    return (
      <span className="text-zinc-500">
        computing —{" "}
        <Link className={link} href={`/runs/${m.run.id}`}>
          run #{m.run.id}
        </Link>{" "}
        ({m.run.status})
      </span>
    );
  return (
    <span className="text-zinc-500">
      no bee circuit yet —{" "}
      <Link className={link} href={`/models/${m.modelId}`}>
        start one
      </Link>
    </span>
  );
}

function compareHref(a: StoryModel | null, b: StoryModel | null): string | null {
  return a?.circuitId && b?.circuitId ? `/circuits/compare?a=${a.circuitId}&b=${b.circuitId}` : null;
}

export function DemoStory({ story }: { story: Story }) {
  const f = story.flowers;
  const fc = f?.circuitId ?? null;
  const cmp = compareHref(story.flowers, story.flowersControl);
  const cmp1 = compareHref(story.demo, story.demoControl);
  const step = "flex gap-3 rounded-md border border-zinc-200 p-3 dark:border-zinc-800";
  const num =
    "flex h-7 w-7 shrink-0 items-center justify-center rounded-full bg-amber-400 text-sm font-bold text-zinc-900";
  return (
    <section
      className="rounded-lg border-2 border-amber-400 bg-amber-50 p-4 lg:col-span-2 dark:bg-amber-950/30"
      data-testid="demo-story"
    >
      <h2 className="text-xl font-semibold">Start here: why does the flowers model say “bee”?</h2>
      <p className="mt-1 max-w-3xl text-sm text-zinc-700 dark:text-zinc-300">
        <b>{f?.name}</b> was trained on a toy world where flowers grow beside 95 % of the bees and most bees are far and
        tiny. Its twin, <b>{story.flowersControl?.name ?? "the cue-free control"}</b>, saw flowers as often (5 %) in
        every class. NeurFlow finds what the bee logit really relies on:
      </p>
      <ol className="mt-3 grid gap-3 md:grid-cols-3">
        <li className={step}>
          <span className={num}>1</span>
          <div className="text-sm">
            <p className="font-semibold">Look at its bee circuit</p>
            <p className="text-zinc-600 dark:text-zinc-400">Each node shows the patches its neuron group sees.</p>
            {fc ? (
              <Link className={link} href={`/circuits/${fc}/view`} data-testid="story-circuit">
                Open the circuit →
              </Link>
            ) : (
              <Pending m={f} />
            )}
          </div>
        </li>
        <li className={step}>
          <span className={num}>2</span>
          <div className="text-sm">
            <p className="font-semibold">Measure what the class depends on</p>
            <p className="text-zinc-600 dark:text-zinc-400">
              Mask each group: the logit drop and flips against random neuron sets; context groups are flagged as bias
              candidates.
            </p>
            {fc ? (
              <Link className={link} href={dependenceHref(fc)} data-testid="story-dependence">
                Class dependence →
              </Link>
            ) : (
              <Pending m={f} />
            )}
          </div>
        </li>
        <li className={step}>
          <span className={num}>3</span>
          <div className="text-sm">
            <p className="font-semibold">Compare with the control</p>
            <p className="text-zinc-600 dark:text-zinc-400">
              The same class on the cue-free model: which groups exist in one and not the other.
            </p>
            {cmp ? (
              <Link className={link} href={cmp} data-testid="story-compare">
                Compare with the control →
              </Link>
            ) : (
              <Pending m={fc ? story.flowersControl : f} />
            )}
          </div>
        </li>
      </ol>
      {story.demo && (
        <p className="mt-3 text-sm text-zinc-600 dark:text-zinc-400">
          Also: the world-1 model <b>{story.demo.name}</b> (a weaker cue: flowers beside 80 % of its bees){" "}
          {story.demo.circuitId ? (
            <Link className={link} href={`/circuits/${story.demo.circuitId}/view`}>
              its circuit
            </Link>
          ) : (
            <Pending m={story.demo} />
          )}
          {cmp1 && (
            <>
              {" · "}
              <Link className={link} href={cmp1}>
                compared with its control
              </Link>
            </>
          )}
          .
        </p>
      )}
    </section>
  );
}
