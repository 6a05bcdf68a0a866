import Link from "next/link";
import { getDb } from "~/db/client";
import { DatasetUploadForm } from "~/components/DatasetUploadForm";
import { DemoStory } from "~/components/DemoStory";
import { ModelUploadForm } from "~/components/ModelUploadForm";
import { Card, StatusBadge, tableClass, when } from "~/components/ui";
import { hasRole } from "~/server/api/trpc";
import { demoStory } from "~/server/demo/story";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function Home() {
  const user = await requireUser();
  const caller = await api();
  const [models, datasets, circuits, runs] = await Promise.all([
    caller.models.list(),
    caller.datasets.list(),
    caller.circuits.list({ limit: 20 }),
    caller.runs.list({ limit: 10 }),
  ]);
  const canWrite = hasRole(user.role, "annotator");
  const story = demoStory(getDb());
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <h1 className="sr-only-live">NeurFlow Studio: models, datasets, circuits and runs</h1>
      {story && <DemoStory story={story} />}
      <Card title="Models">
        {models.length === 0 ? (
          <p className="text-sm text-zinc-500">No models yet.</p>
        ) : (
          <table className={tableClass}>
            <thead>
              <tr>
                <th>Name</th>
                <th>Format</th>
                <th>Classes</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <tr key={m.id}>
                  <td>
                    <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/models/${m.id}`}>
                      {m.name}
                    </Link>
                  </td>
                  <td>{m.format}</td>
                  <td>{m.classCount}</td>
                  <td>
                    <StatusBadge status={m.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Datasets">
        {datasets.length === 0 ? (
          <p className="text-sm text-zinc-500">No datasets yet.</p>
        ) : (
          <table className={tableClass}>
            <thead>
              <tr>
                <th>Name</th>
                <th>Source</th>
                <th>Classes</th>
                <th>Images</th>
              </tr>
            </thead>
            <tbody>
              {datasets.map((d) => (
                <tr key={d.id}>
                  <td>{d.name}</td>
                  <td>{d.source}</td>
                  <td>{d.classCount}</td>
                  <td>{d.imageCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Recent circuits">
        {circuits.length === 0 ? (
          <p className="text-sm text-zinc-500">No circuits yet. Open a model and start a run.</p>
        ) : (
          <table className={tableClass}>
            <thead>
              <tr>
                <th>Class</th>
                <th>Model</th>
                <th>τ</th>
                <th>Layer pairs</th>
                <th>Groups</th>
                <th>Stored</th>
              </tr>
            </thead>
            <tbody>
              {circuits.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/circuits/${c.id}`}>
                      {c.className}
                    </Link>
                  </td>
                  <td>{c.modelName}</td>
                  <td>{c.tau}</td>
                  <td>{c.layerCount}</td>
                  <td>{c.neuronGroupCount}</td>
                  <td>{when(c.storedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Recent runs">
        {runs.length === 0 ? (
          <p className="text-sm text-zinc-500">No runs yet.</p>
        ) : (
          <table className={tableClass}>
            <thead>
              <tr>
                <th>Run</th>
                <th>Model</th>
                <th>Class</th>
                <th>Status</th>
                <th>Progress</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/runs/${r.id}`}>
                      #{r.id}
                    </Link>
                  </td>
                  <td>{r.modelName}</td>
                  <td>{r.className}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{Math.round((r.progress ?? 0) * 100)}%</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {canWrite && (
        <>
          <Card title="Upload a model">
            <ModelUploadForm />
          </Card>
          <Card title="Add a dataset">
            <DatasetUploadForm
              models={models.map((m) => ({ id: m.id, name: m.name }))}
              isAdmin={user.role === "admin"}
            />
          </Card>
        </>
      )}
    </div>
  );
}
