"use client";
/** A plot with its exports: SVG (the element serialised), PNG (drawn onto a canvas) and CSV (the numbers). */
import { useRef, useState, type ReactNode } from "react";
import { exportCsv, exportPng, exportSvg } from "./exportPlot";
import type { Csv } from "./plots";

const btn =
  "rounded border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800";

export function PlotCard({
  name,
  csv,
  testId,
  children,
  caption,
}: {
  name: string;
  csv: () => Csv;
  testId: string;
  children: ReactNode;
  caption?: ReactNode;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const svg = () => box.current?.querySelector("svg") ?? null;
  return (
    <figure className="flex flex-col gap-2" data-testid={testId}>
      <div className="overflow-x-auto rounded border border-zinc-200 dark:border-zinc-700" ref={box}>
        {children}
      </div>
      <figcaption className="flex flex-wrap items-center gap-2 text-xs text-zinc-500">
        <span className="flex-1">{caption}</span>
        <button type="button" className={btn} data-testid="export-svg" onClick={() => svg() && exportSvg(svg()!, name)}>
          SVG
        </button>
        <button
          type="button"
          className={btn}
          data-testid="export-png"
          onClick={() => {
            const s = svg();
            if (s) exportPng(s, name).catch((e: Error) => setError(e.message));
          }}
        >
          PNG
        </button>
        <button
          type="button"
          className={btn}
          data-testid="export-csv"
          onClick={() => {
            const c = csv();
            exportCsv(name, c.header, c.rows);
          }}
        >
          CSV
        </button>
        {error && <span className="text-red-600">{error}</span>}
      </figcaption>
    </figure>
  );
}
