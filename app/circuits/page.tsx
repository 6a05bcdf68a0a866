/** Browse circuits: by model and class, search over class names and labels, sorting, thumbnails. */
import type { Metadata } from "next";
import Link from "next/link";
import { z } from "zod";
import { Card, inputClass, buttonClass, when } from "~/components/ui";
import { BROWSE_SORTS } from "~/server/api/routers/circuitBrowse";
import { imageUrls } from "~/lib/circuits/viewTypes";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Circuits" };

const query = z.object({
  q: z.string().max(200).catch(""),
  model: z.coerce.number().int().positive().optional().catch(undefined),
  sort: z.enum(BROWSE_SORTS).catch("newest"),
});

export default async function BrowseCircuits({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requireUser();
  const raw = await searchParams;
  const q = query.parse({ q: typeof raw.q === "string" ? raw.q : "", model: raw.model, sort: raw.sort });
  const caller = await api();
  const [rows, models] = await Promise.all([
    caller.circuitBrowse.search({ q: q.q, modelId: q.model, sort: q.sort }),
    caller.models.list(),
  ]);
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">Circuits</h1>
      <form className="flex flex-wrap items-end gap-2 text-sm" method="get" role="search">
        <label className="flex flex-col gap-1">
          <span className="text-zinc-500">Class or label</span>
          <input
            className={inputClass}
            name="q"
            defaultValue={q.q}
            placeholder="e.g. bee, stripes"
            data-testid="browse-q"
          />
        </label>
        <label className="flex flex-col gap-1">
          <span className="text-zinc-500">Model</span>
          <select className={inputClass} name="model" defaultValue={q.model ?? ""}>
            <option value="">all models</option>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col gap-1">
          <span className="text-zinc-500">Sort</span>
          <select className={inputClass} name="sort" defaultValue={q.sort}>
            <option value="newest">newest first</option>
            <option value="oldest">oldest first</option>
            <option value="class">class name</option>
            <option value="groups">most groups</option>
          </select>
        </label>
        <button className={buttonClass} type="submit">
          Search
        </button>
      </form>
      {rows.length === 0 ? (
        <Card title="No circuits">
          <p className="text-sm text-zinc-500">Nothing matches{q.q ? ` “${q.q}”` : ""}.</p>
        </Card>
      ) : (
        <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="browse-results">
          {rows.map((c) => (
            <li
              key={c.id}
              className="overflow-hidden rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
            >
              <Link href={`/circuits/${c.id}/view`} className="block">
                <img
                  src={imageUrls(c.id, null).thumb}
                  alt={`circuit of ${c.className}`}
                  width={320}
                  height={180}
                  className="w-full"
                  loading="lazy"
                />
                <div className="p-3 text-sm">
                  <p className="font-semibold">{c.className}</p>
                  <p className="text-zinc-500">
                    {c.modelName} · τ {c.tau} · {c.neuronGroupCount} groups · {c.layerCount} layer pairs ·{" "}
                    {when(c.storedAt)}
                  </p>
                  {c.matchedLabels.length > 0 && (
                    <p className="mt-1 text-xs text-zinc-500">labels: {c.matchedLabels.join(" · ")}</p>
                  )}
                </div>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
