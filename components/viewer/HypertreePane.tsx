"use client";
/**
 * The hypertree drill-down as a full-width pane under the concept graph: where the neuron sits in
 * the chain of layers, the path walked so far (each step reopens it), the neuron-level hypertree
 * itself (`HypertreeView`), and a close button (Esc closes it too). Opening it scrolls it into view.
 */
import { useEffect, useRef, useState } from "react";
import type { CircuitGraph, Hypertree } from "~/lib/circuits/viewTypes";
import { HypertreeView } from "./HypertreeView";
import type { Drill } from "./viewerHooks";

interface Props {
  graph: CircuitGraph;
  drill: Drill;
  tree: Hypertree | null;
  error: string | null;
  shareToken: string | null;
  onDrill: (d: Drill | null) => void;
  onSelectGroup: (groupRowId: number) => void;
}

/** The walk so far: a step to a neighbouring layer extends it, a step back along it shortens it, anything else starts anew. */
function nextTrail(trail: Drill[], d: Drill): Drill[] {
  const at = trail.findIndex((t) => t.layer === d.layer && t.neuron === d.neuron);
  if (at >= 0) return trail.slice(0, at + 1);
  const last = trail.at(-1);
  return last && Math.abs(last.layer - d.layer) === 1 ? [...trail, d] : [d];
}

export function HypertreePane({ graph, drill, tree, error, shareToken, onDrill, onSelectGroup }: Props) {
  const [trail, setTrail] = useState<Drill[]>([drill]);
  useEffect(() => setTrail((t) => nextTrail(t, drill)), [drill]);
  const ref = useRef<HTMLElement>(null);
  const opened = useRef(false);
  useEffect(() => {
    if (opened.current) return;
    opened.current = true;
    ref.current?.scrollIntoView({ behavior: "smooth", block: "start" });
  }, []);
  const chain = graph.circuit.chain;
  const name = (d: Drill) => `${graph.circuit.layers[d.layer]}:${d.neuron}`;
  return (
    <section
      ref={ref}
      className="rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-800 dark:bg-zinc-950"
      data-testid="hypertree"
      aria-label={`Hypertree of ${name(drill)}`}
    >
      <div className="flex flex-wrap items-center gap-3">
        <h2 className="text-lg font-semibold">Hypertree of {name(drill)}</h2>
        <ol className="flex flex-wrap items-center gap-1 text-sm" aria-label="Layers" data-testid="ht-layers">
          {chain.map((l, i) => (
            <li key={l} className="flex items-center gap-1">
              {i > 0 && <span className="text-zinc-400">›</span>}
              <span
                className={
                  i === drill.layer
                    ? "rounded bg-green-100 px-1.5 font-semibold text-green-900 dark:bg-green-900 dark:text-green-100"
                    : i === drill.layer + 1
                      ? "rounded bg-zinc-100 px-1.5 dark:bg-zinc-800"
                      : "px-1.5 text-zinc-500"
                }
                aria-current={i === drill.layer ? "step" : undefined}
              >
                {l}
              </span>
            </li>
          ))}
        </ol>
        <span className="flex-1" />
        <button className="text-sm text-zinc-500 hover:underline" onClick={() => onDrill(null)}>
          Close ✕
        </button>
      </div>
      {trail.length > 1 && (
        <nav className="mt-1 flex flex-wrap items-center gap-1 text-sm" aria-label="Path" data-testid="ht-trail">
          <span className="text-zinc-500">path:</span>
          {trail.map((d, i) => (
            <span key={`${d.layer}:${d.neuron}`} className="flex items-center gap-1">
              {i > 0 && <span className="text-zinc-400">→</span>}
              <button
                className="text-blue-700 hover:underline disabled:text-zinc-900 disabled:no-underline dark:text-blue-400 dark:disabled:text-zinc-100"
                disabled={i === trail.length - 1}
                onClick={() => onDrill(d)}
              >
                {name(d)}
              </button>
            </span>
          ))}
        </nav>
      )}
      <p className="mt-1 text-xs text-zinc-500">
        Click a neuron above to go up, a core neuron marked ↓ to go down, a semantic group to select its neuron group in
        the graph. Edge width: |W|; blue solid W &gt; 0, red dashed W &lt; 0; “a”: activation (spatial mean of the
        channel) on the strongest patch.
      </p>
      {error && <p className="text-sm text-red-600">{error}</p>}
      {tree && tree.layer === drill.layer && tree.neuron === drill.neuron ? (
        <HypertreeView
          graph={graph}
          tree={tree}
          shareToken={shareToken}
          onDrill={(layer, neuron) => onDrill({ layer, neuron })}
          onSelectGroup={onSelectGroup}
        />
      ) : (
        !error && <p className="py-8 text-center text-sm text-zinc-500">loading…</p>
      )}
    </section>
  );
}
