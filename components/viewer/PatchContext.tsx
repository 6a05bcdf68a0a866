"use client";
/**
 * One concept patch in context (a dialog over the viewer): the source image at the model's input
 * size with the crop's box drawn, the crop's granularity and position, the patch itself, the
 * activation it was chosen for, and the group's metric M over all of the circuit's patches as a
 * histogram with this patch marked (and the authors' 0.6 "shows the concept" line). Without the
 * histogram a signed-in user can have it computed (one worker job per circuit); Esc or Close ends it.
 */
import { useEffect, useRef } from "react";
import { groupTitle } from "~/lib/circuits/svg";
import { imageUrls, type CircuitGraph, type GraphGroup, type GroupPatchContext } from "~/lib/circuits/viewTypes";

interface Props {
  graph: CircuitGraph;
  group: GraphGroup;
  ctx: GroupPatchContext;
  patch: GroupPatchContext["patches"][number];
  shareToken: string | null;
  /** Queues the activations job (null: not allowed or not possible here). */
  onRequest: (() => void) | null;
  onClose: () => void;
}

const SHOWN = 288;

export function fmtActivation(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
const M_THRESHOLD = 0.6;

export function granularityText(g: number): string {
  const names: Record<string, string> = { "1": "1 (the whole image)", "0.5": "½", "0.25": "¼", "0.125": "⅛" };
  return names[String(g)] ?? g.toFixed(3);
}

function Histogram({ h, m }: { h: NonNullable<GroupPatchContext["histogram"]>; m: number | null }) {
  const W = 420;
  const H = 150;
  const padL = 36;
  const padB = 28;
  const plotW = W - padL - 8;
  const plotH = H - padB - 16;
  const top = Math.max(1, ...h.counts);
  const bw = plotW / h.counts.length;
  const x = (v: number) => padL + (h.max > 0 ? Math.min(1, v / h.max) : 0) * plotW;
  return (
    <svg
      width={W}
      height={H}
      viewBox={`0 0 ${W} ${H}`}
      className="max-w-full"
      role="img"
      aria-label={`Histogram of metric M over ${h.patches} patches${m != null ? `; this patch ${m.toFixed(2)}` : ""}`}
      data-testid="patch-histogram"
      data-max={h.max}
    >
      {h.counts.map((c, i) => {
        const bh = (c / top) * plotH;
        return (
          <rect
            key={i}
            x={padL + i * bw + 0.5}
            y={16 + plotH - bh}
            width={Math.max(1, bw - 1)}
            height={bh}
            className="fill-zinc-400 dark:fill-zinc-500"
            data-testid="histogram-bar"
            data-count={c}
          />
        );
      })}
      <line x1={padL} y1={16 + plotH} x2={padL + plotW} y2={16 + plotH} className="stroke-zinc-500" />
      <text x={padL - 4} y={20} textAnchor="end" fontSize={11} className="fill-zinc-500">
        {top}
      </text>
      <text x={padL - 4} y={16 + plotH} textAnchor="end" fontSize={11} className="fill-zinc-500">
        0
      </text>
      <text x={padL} y={H - 8} fontSize={11} className="fill-zinc-500">
        0
      </text>
      <text x={padL + plotW} y={H - 8} fontSize={11} textAnchor="end" className="fill-zinc-500">
        M {h.max.toFixed(2)}
      </text>
      {M_THRESHOLD <= h.max && (
        <g>
          <line
            x1={x(M_THRESHOLD)}
            x2={x(M_THRESHOLD)}
            y1={16}
            y2={16 + plotH}
            strokeDasharray="3 3"
            className="stroke-zinc-500"
          />
          <text x={x(M_THRESHOLD)} y={H - 8} fontSize={11} textAnchor="middle" className="fill-zinc-500">
            0.6
          </text>
        </g>
      )}
      {m != null && (
        <g data-testid="histogram-marker" data-m={m} data-x={x(m)}>
          <line x1={x(m)} x2={x(m)} y1={10} y2={16 + plotH} strokeWidth={2.5} className="stroke-amber-500" />
          <text
            x={Math.min(Math.max(x(m), padL + 40), padL + plotW - 40)}
            y={10}
            fontSize={11}
            textAnchor="middle"
            className="fill-amber-700 font-semibold dark:fill-amber-400"
          >
            this patch
          </text>
        </g>
      )}
    </svg>
  );
}

export function PatchContext({ graph, group, ctx, patch, shareToken, onRequest, onClose }: Props) {
  const urls = imageUrls(graph.circuit.id, shareToken);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), []);
  // Esc closes the dialog only, wherever the focus is (the viewer's own Esc would close the panel
  // too): caught on the way down, before the viewer's listener on the window sees it
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      close.current();
    };
    window.addEventListener("keydown", onKey, { capture: true });
    return () => window.removeEventListener("keydown", onKey, { capture: true });
  }, []);
  const S = ctx.inputSize;
  const k = SHOWN / S;
  const running = ctx.job && (ctx.job.status === "queued" || ctx.job.status === "running");
  const title = groupTitle(group, graph.circuit.layers);
  return (
    <div className="fixed inset-0 z-50 flex items-start justify-center overflow-y-auto bg-black/40 p-4">
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby="patch-context-title"
        className="mt-8 w-full max-w-3xl rounded-lg border border-zinc-200 bg-white p-4 shadow-xl dark:border-zinc-800 dark:bg-zinc-900"
        data-testid="patch-context"
      >
        <div className="flex items-center gap-2">
          <h2 id="patch-context-title" className="flex-1 text-lg font-semibold">
            Patch {patch.patch} of {title}
          </h2>
          <button ref={closeRef} className="text-sm text-zinc-500 hover:underline" onClick={onClose}>
            Close ✕
          </button>
        </div>
        <div className="mt-3 flex flex-wrap gap-4">
          <figure>
            <div className="relative" style={{ width: SHOWN, height: SHOWN }}>
              <img
                src={urls.image(patch.imageIdx)}
                alt={`${patch.imageName}, the crop boxed`}
                width={SHOWN}
                height={SHOWN}
                className="rounded"
                style={{ imageRendering: S < SHOWN ? "pixelated" : "auto" }}
                data-testid="patch-source"
              />
              <svg width={SHOWN} height={SHOWN} className="absolute inset-0" aria-hidden="true">
                <rect
                  x={patch.x * k + 1}
                  y={patch.y * k + 1}
                  width={Math.max(2, patch.size * k - 2)}
                  height={Math.max(2, patch.size * k - 2)}
                  fill="none"
                  strokeWidth={3}
                  className="stroke-amber-400"
                  data-testid="patch-box"
                />
              </svg>
            </div>
            <figcaption className="mt-1 max-w-72 text-xs text-zinc-500">
              {patch.imageName} at the model's input size ({S}×{S})
            </figcaption>
          </figure>
          <div className="flex min-w-60 flex-1 flex-col gap-2 text-sm">
            <img
              src={urls.patch(patch.patch)}
              alt={`patch ${patch.patch}`}
              width={112}
              height={112}
              className="rounded"
              style={{ imageRendering: S < 112 ? "pixelated" : "auto" }}
            />
            <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1" data-testid="patch-facts">
              <dt className="text-zinc-500">granularity</dt>
              <dd data-testid="patch-granularity">{granularityText(patch.granularity)}</dd>
              <dt className="text-zinc-500">box</dt>
              <dd className="tabular-nums">
                x {patch.x}, y {patch.y}, {patch.size}×{patch.size} px
              </dd>
              <dt className="text-zinc-500">activation</dt>
              <dd className="tabular-nums" data-testid="patch-context-activation">
                {patch.activation != null && patch.neuron != null
                  ? `${fmtActivation(patch.activation)} (${ctx.layer}:${patch.neuron}${patch.rank != null ? `, its top patch #${patch.rank + 1}` : ""})`
                  : "—"}
              </dd>
              <dt className="text-zinc-500">metric M</dt>
              <dd className="tabular-nums" data-testid="patch-m">
                {patch.m != null
                  ? `${patch.m.toFixed(2)} · higher than ${Math.round((patch.below ?? 0) * (ctx.histogram?.patches ?? 0))} of the circuit's ${ctx.histogram?.patches ?? 0} patches`
                  : "not computed yet"}
              </dd>
            </dl>
          </div>
        </div>
        <section className="mt-3">
          <h3 className="text-sm font-medium text-zinc-500">
            The group's metric M over all {ctx.histogram ? ctx.histogram.patches : ""} patches of the circuit
          </h3>
          {ctx.histogram ? (
            <>
              <Histogram h={ctx.histogram} m={patch.m} />
              <p className="text-xs text-zinc-500">
                M: geometric mean over the group's neurons of activation / their mean activation on the concept patches
                (≈ 1 on a typical concept patch). {ctx.histogram.above} of {ctx.histogram.patches} patches reach 0.6,
                the threshold for "shows the concept".
              </p>
            </>
          ) : running ? (
            <p className="text-sm text-zinc-500" data-testid="patch-histogram-status">
              computing… {((ctx.job?.progress ?? 0) * 100).toFixed(0)} %
            </p>
          ) : (
            <p className="text-sm text-zinc-500" data-testid="patch-histogram-status">
              {ctx.job?.status === "failed" && `Failed: ${ctx.job.error ?? ""}. `}
              Not computed yet: one pass of the model over the circuit's patches, once for all groups.{" "}
              {onRequest ? (
                <button
                  className="text-blue-700 hover:underline dark:text-blue-400"
                  onClick={onRequest}
                  data-testid="patch-histogram-compute"
                >
                  compute
                </button>
              ) : ctx.canCompute ? (
                "A signed-in member of the team can compute it."
              ) : (
                "The model or the images of this circuit are not on this server."
              )}
            </p>
          )}
        </section>
      </div>
    </div>
  );
}
