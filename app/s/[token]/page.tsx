/**
 * A share link: the circuit read-only, with the view state the link was created with, for someone
 * without an account. A revoked, expired or unknown link shows a clear page and nothing else.
 */
import type { Metadata } from "next";
import { headers } from "next/headers";
import { cache } from "react";
import { getDb } from "~/db/client";
import { CircuitViewer } from "~/components/viewer/CircuitViewer";
import { imageUrls } from "~/lib/circuits/viewTypes";
import { absoluteUrl } from "~/server/security/origin";
import { clientAddress } from "~/server/security/clientAddress";
import { resolveShareRequest, shareMessage } from "~/server/share/links";
import { TRPCReactProvider } from "~/trpc/react";
import { shareApi } from "~/trpc/server";

export const dynamic = "force-dynamic";

/**
 * The link, resolved once per request (metadata and page share it) and rate-limited per client
 * address like every share-token use (`server/security/rateLimit.ts`, ShareGuard).
 */
const resolveForPage = cache(async (token: string) =>
  resolveShareRequest(getDb(), token, clientAddress(await headers())),
);

export async function generateMetadata({ params }: { params: Promise<{ token: string }> }): Promise<Metadata> {
  const { token } = await params;
  const r = await resolveForPage(token);
  // the token is in the URL: keep it out of Referer headers
  if (r.status !== "ok")
    return {
      title: { absolute: "Share link unavailable · NeurFlow Studio" },
      robots: { index: false },
      referrer: "no-referrer",
    };
  const graph = await shareApi(token)
    .circuitGraph.get({ id: r.link.circuitId })
    .catch(() => null);
  if (!graph) return { title: { absolute: "NeurFlow Studio" } };
  const title = `Concept circuit of “${graph.circuit.className}” · ${graph.circuit.modelName}`;
  const description = `${graph.groups.length} neuron groups over ${graph.circuit.chain.join(" → ")} (τ ${graph.circuit.tau}), shared read-only from NeurFlow Studio.`;
  // on the configured public origin (NEURFLOW_PUBLIC_URL): Host / X-Forwarded-Host are not trusted
  const image = absoluteUrl(imageUrls(graph.circuit.id, token).og);
  return {
    title: { absolute: title },
    description,
    robots: { index: false },
    referrer: "no-referrer",
    openGraph: { title, description, type: "website", images: [{ url: image, width: 1200, height: 630 }] },
    twitter: { card: "summary_large_image", title, description, images: [image] },
  };
}

export default async function SharePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const r = await resolveForPage(token);
  if (r.status === "limited") {
    return (
      <div className="mx-auto mt-16 max-w-lg text-center" data-testid="share-unavailable">
        <h1 className="text-2xl font-semibold">Too many requests</h1>
        <p className="mt-3 text-zinc-600 dark:text-zinc-300" data-testid="share-reason">
          {shareMessage(r).replace(/^./, (c) => c.toUpperCase())}.
        </p>
      </div>
    );
  }
  if (r.status !== "ok") {
    return (
      <div className="mx-auto mt-16 max-w-lg text-center" data-testid="share-unavailable">
        <h1 className="text-2xl font-semibold">This link no longer opens a circuit</h1>
        <p className="mt-3 text-zinc-600 dark:text-zinc-300" data-testid="share-reason">
          {shareMessage(r).replace(/^./, (c) => c.toUpperCase())}.
        </p>
        <p className="mt-2 text-sm text-zinc-500">Ask the person who shared it for a new link.</p>
      </div>
    );
  }
  const graph = await shareApi(token).circuitGraph.get({ id: r.link.circuitId });
  const c = graph.circuit;
  return (
    <div className="flex flex-col gap-3">
      <div>
        <h1 className="text-2xl font-semibold">Concept circuit of “{c.className}”</h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {c.modelName} · τ {c.tau} · k {c.k} · {c.chain.join(" → ")} · {graph.groups.length} groups · shared read-only
          {r.link.expiresAt != null && ` · link expires ${new Date(r.link.expiresAt).toISOString().slice(0, 10)}`}
        </p>
      </div>
      <TRPCReactProvider shareToken={token}>
        <CircuitViewer
          graph={graph}
          initialView={r.link.viewState}
          shareToken={token}
          canShare={false}
          documentHref={null}
        />
      </TRPCReactProvider>
    </div>
  );
}
