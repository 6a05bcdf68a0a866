"use client";
/**
 * Labels of a whole circuit, for the plain summary page: the label job panel, then per layer entry
 * its neuron groups with their labels and the strongest edges with their explanations. Opening a
 * row shows the same panels the circuit viewer uses (`GroupLabelPanel`, `EdgeExplanation`).
 */
import { useQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { ErrorBox, tableClass } from "~/components/ui";
import { layerEntryName } from "~/lib/circuits/describe";
import { imageUrls } from "~/lib/circuits/viewTypes";
import { useTRPC } from "~/trpc/react";
import { EdgeExplanation } from "./EdgeExplanation";
import { GroupLabelPanel } from "./GroupLabelPanel";
import { ReviewBadge } from "./LabelEditor";
import { LabelJobPanel } from "./LabelJobPanel";

const firstLine = (s: string) => s.split("\n")[0] ?? "";

export function CircuitLabels({ circuitId }: { circuitId: number }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.labels.overview.queryOptions({ circuitId }));
  const [open, setOpen] = useState<string | null>(null);
  if (q.isPending) return <p className="text-sm text-zinc-500">Loading labels…</p>;
  if (q.error) return <ErrorBox>{q.error.message}</ErrorBox>;
  const o = q.data;
  const urls = imageUrls(circuitId, null);
  const toggle = (k: string) => setOpen((cur) => (cur === k ? null : k));
  const openButton = (k: string, testid: string, what: string) => (
    <button
      type="button"
      className="text-blue-700 hover:underline dark:text-blue-400"
      onClick={() => toggle(k)}
      data-testid={testid}
      aria-expanded={open === k}
      aria-label={`${open === k ? "close" : o.canEdit ? "edit or see the history of" : "see the history of"} ${what}`}
    >
      {open === k ? "close" : o.canEdit ? "edit / history" : "history"}
    </button>
  );
  return (
    <div className="flex flex-col gap-4" data-testid="circuit-labels">
      <LabelJobPanel
        circuitId={circuitId}
        config={o.config}
        canEdit={o.canEdit}
        layerNames={o.layers.map((l) => l.name)}
      />
      {o.layers.map((l) => (
        <div key={l.layer}>
          <h3 className="mb-1 text-sm font-semibold">
            {l.name} <span className="font-normal text-zinc-500">({layerEntryName(l.layer, l.name, l.lower)})</span>
          </h3>
          <div className="overflow-x-auto">
            <table className={tableClass}>
              <thead>
                <tr>
                  <th>Group</th>
                  <th>Patches</th>
                  <th>Label</th>
                  <th>Review</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {l.groups.map((g) => {
                  const k = `g:${l.layer}:${g.group}`;
                  return (
                    <Fragment key={k}>
                      <tr data-testid={`group-row-${l.layer}-${g.group}`}>
                        <td>
                          <span className="flex items-center gap-2">
                            {/* the group's concept at a glance: its mosaic of top patches (a grey placeholder when the images are out of reach) */}
                            <img
                              src={urls.mosaic(g.rowId)}
                              alt={`concept patches of group ${g.group}`}
                              width={40}
                              height={40}
                              className="rounded"
                              loading="lazy"
                              data-testid="row-mosaic"
                            />
                            {g.group}
                          </span>
                        </td>
                        <td>{g.patchCount}</td>
                        <td className="max-w-md">
                          {g.label ? (
                            <>
                              <span className="whitespace-pre-wrap break-words font-medium" data-testid="row-label">
                                {g.label.text}
                              </span>
                              {g.label.description && (
                                <span className="block text-xs text-zinc-500">{g.label.description}</span>
                              )}
                            </>
                          ) : (
                            <span className="text-zinc-400">—</span>
                          )}
                        </td>
                        <td>{g.label && <ReviewBadge review={g.label.review} />}</td>
                        <td>
                          {openButton(k, `group-open-${l.layer}-${g.group}`, `the label of ${l.name} group ${g.group}`)}
                        </td>
                      </tr>
                      {open === k && (
                        <tr>
                          <td colSpan={5} className="bg-zinc-50 p-3 dark:bg-zinc-950">
                            <GroupLabelPanel
                              circuitId={circuitId}
                              groupRef={{ layer: l.layer, group: g.group }}
                              renderEvidence={(patches) => (
                                <span className="flex flex-wrap gap-1" data-testid="evidence">
                                  {patches.slice(0, 12).map((p) => (
                                    <img
                                      key={p}
                                      src={urls.patch(p)}
                                      alt={`patch ${p}`}
                                      width={48}
                                      height={48}
                                      className="rounded"
                                    />
                                  ))}
                                </span>
                              )}
                            />
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
          {l.edges.length > 0 && (
            <details className="mt-2" open={l.edges.some((e) => e.explanation) || undefined}>
              <summary className="cursor-pointer text-sm text-zinc-600 dark:text-zinc-400">
                Strongest edges from {l.lower} ({l.edges.length})
              </summary>
              <div className="overflow-x-auto">
                <table className={tableClass}>
                  <thead>
                    <tr>
                      <th>Child → parent</th>
                      <th>W</th>
                      <th>Explanation</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {l.edges.map((e) => {
                      const k = `e:${l.layer}:${e.child}:${e.parent}`;
                      return (
                        <Fragment key={k}>
                          <tr data-testid={`edge-row-${l.layer}-${e.child}-${e.parent}`}>
                            <td>
                              {e.child} → {e.parent}
                            </td>
                            <td>{e.weight.toFixed(3)}</td>
                            <td className="max-w-md">
                              {e.explanation ? (
                                <span className="whitespace-pre-wrap break-words">{firstLine(e.explanation.text)}</span>
                              ) : (
                                <span className="text-zinc-400">—</span>
                              )}
                            </td>
                            <td>
                              {openButton(
                                k,
                                `edge-open-${l.layer}-${e.child}-${e.parent}`,
                                `the explanation of edge ${e.child} → ${e.parent}`,
                              )}
                            </td>
                          </tr>
                          {open === k && (
                            <tr>
                              <td colSpan={4} className="bg-zinc-50 p-3 dark:bg-zinc-950">
                                <EdgeExplanation
                                  circuitId={circuitId}
                                  edgeRef={{ layer: l.layer, child: e.child, parent: e.parent }}
                                />
                              </td>
                            </tr>
                          )}
                        </Fragment>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </details>
          )}
        </div>
      ))}
    </div>
  );
}
