/** Small shared building blocks (server- and client-safe: no hooks). */
import type { ReactNode } from "react";

export function Card({
  title,
  children,
  actions,
  id,
}: {
  title: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
  id?: string;
}) {
  return (
    <section
      id={id}
      className="rounded-lg border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="mb-3 flex items-center gap-3">
        <h2 className="text-base font-semibold">{title}</h2>
        <span className="flex-1" />
        {actions}
      </div>
      {children}
    </section>
  );
}

export function ErrorBox({ children }: { children: ReactNode }) {
  return (
    <p
      role="alert"
      className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
    >
      {children}
    </p>
  );
}

const STATUS_COLOURS: Record<string, string> = {
  queued: "bg-zinc-200 text-zinc-800 dark:bg-zinc-700 dark:text-zinc-100",
  running: "bg-blue-100 text-blue-800 dark:bg-blue-900 dark:text-blue-100",
  validating: "bg-blue-100 text-blue-800 dark:bg-blue-900 dark:text-blue-100",
  succeeded: "bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100",
  ready: "bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100",
  failed: "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100",
  invalid: "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100",
  canceled: "bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-100",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`rounded px-2 py-0.5 text-xs font-medium ${STATUS_COLOURS[status] ?? STATUS_COLOURS.queued}`}>
      {status}
    </span>
  );
}

export const inputClass =
  "rounded border border-zinc-300 bg-white px-2 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-800 focus:outline-none focus:ring-2 focus:ring-blue-500";
export const buttonClass =
  "rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700 disabled:opacity-50 dark:bg-blue-600 dark:hover:bg-blue-700";
/** A button for a secondary or destructive action (not the page's main one). */
export const secondaryButtonClass =
  "rounded border border-zinc-300 px-3 py-1.5 text-sm hover:bg-zinc-100 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800";
export const tableClass =
  "w-full text-left text-sm [&_td]:py-1 [&_td]:pr-3 [&_th]:pb-1 [&_th]:pr-3 [&_th]:font-medium [&_th]:text-zinc-500";

export function when(ms: number | null | undefined): string {
  // the same text on the server and in every browser (no hydration mismatch), so it says its zone
  return ms ? `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC` : "—";
}
