"use client";
/**
 * The explanations of a group's explained child edges (how the groups one layer down build it),
 * each openable into an `EdgeExplanation` panel. Renders nothing when there are none or when the
 * reader cannot list them (a share link without a session).
 */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { EdgeExplanation } from "./EdgeExplanation";
import type { GroupRef } from "./types";

export function GroupExplanations({ circuitId, groupRef }: { circuitId: number; groupRef: GroupRef }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.labels.forCircuit.queryOptions({ circuitId }, { retry: false }));
  const [open, setOpen] = useState<number | null>(null);
  const edges = (q.data?.edges ?? []).filter((e) => e.layer === groupRef.layer && e.parent === groupRef.group);
  if (edges.length === 0) return null;
  return (
    <section className="flex flex-col gap-1" aria-label="Explanations" data-testid="group-explanations">
      <h3 className="text-sm font-semibold text-zinc-500">How groups one layer down build it</h3>
      <ul className="flex flex-col gap-1">
        {edges.map((e) => (
          <li key={e.child}>
            <button
              type="button"
              className="text-left hover:underline"
              onClick={() => setOpen(open === e.child ? null : e.child)}
              aria-expanded={open === e.child}
            >
              <span className="text-zinc-500">from group {e.child}: </span>
              <span className="whitespace-pre-wrap">{e.text.split("\n")[0]}</span>
            </button>
            {open === e.child && (
              <div className="mt-1 rounded border border-zinc-200 p-2 dark:border-zinc-800">
                <EdgeExplanation
                  circuitId={circuitId}
                  edgeRef={{ layer: e.layer, child: e.child, parent: e.parent }}
                  title={null}
                />
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
