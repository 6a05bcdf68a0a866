import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { RunFacts, RunProgress } from "~/components/RunProgress";
import { Card } from "~/components/ui";
import { hasRole } from "~/server/api/trpc";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const r = await (await api()).runs.get({ id: Number((await params).id) }).catch(() => null);
  return { title: r ? `Run #${r.id}: ${r.className}` : "Run" };
}

export default async function RunPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const run = await (await api()).runs.get({ id }).catch(() => null);
  if (!run) notFound();
  return (
    <div className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold">
          Run #{run.id}: {run.className}
        </h1>
        <RunFacts initial={run} />
      </div>
      <Card title="Progress">
        <RunProgress initial={run} canCancel={hasRole(user.role, "annotator")} />
      </Card>
    </div>
  );
}
