"use client";
/** tRPC + React Query for client components: batched HTTP, FormData uploads, SSE subscriptions. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  isNonJsonSerializable,
  splitLink,
} from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import superjson from "superjson";
import { z } from "zod";
import type { AppRouter } from "~/server/api/root";
import { SHARE_HEADER } from "~/lib/circuits/viewTypes";

// zod compiles fast parsers with `new Function` after probing whether it may: under the app's CSP
// (no 'unsafe-eval') the probe fails, harmlessly, but the browser reports a CSP violation for it
z.config({ jitless: true });

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

const url = "/api/trpc";

function makeClient(shareToken: string | null) {
  // a share-link visitor's reads carry the link's token (the server opens that circuit to it)
  const headers = () => (shareToken ? { [SHARE_HEADER]: shareToken } : {});
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url, transformer: superjson }),
        false: splitLink({
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink({ url, transformer: superjson, headers }),
          false: httpBatchLink({ url, transformer: superjson, headers }),
        }),
      }),
    ],
  });
}

/** The app's provider; a share page nests its own with the link's token. */
export function TRPCReactProvider({
  children,
  shareToken = null,
}: {
  children: ReactNode;
  shareToken?: string | null;
}) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { staleTime: 5_000 } } }));
  const [client] = useState(() => makeClient(shareToken));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={client} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
