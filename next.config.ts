import type { NextConfig } from "next";
import { API_CSP, COMMON_HEADERS } from "./server/security/headers";

const config: NextConfig = {
  // the end-to-end tests build into their own folder (tests/e2e/helpers.ts), leaving `.next` alone
  distDir: process.env.NEURFLOW_NEXT_DIST_DIR || ".next",
  // native modules stay outside the server bundle, and so does TensorFlow.js (the model check at
  // upload parses graphs with the engine's importer, which imports it); so do BullMQ and ioredis
  // (NEURFLOW_QUEUE=redis://…), whose msgpackr loads an optional native extension
  serverExternalPackages: ["better-sqlite3", "sharp", "@tensorflow/tfjs", "bullmq", "ioredis"],
  poweredByHeader: false,
  // `npm run typecheck` (tsc over the whole repository) is the type check; the build skips its own
  // pass so a 2-core machine builds in reasonable time.
  typescript: { ignoreBuildErrors: true },
  // security headers on every response (server/security/headers.ts); pages get their CSP, with a
  // nonce, from proxy.ts
  async headers() {
    return [
      { source: "/:path*", headers: COMMON_HEADERS },
      { source: "/api/:path*", headers: [{ key: "Content-Security-Policy", value: API_CSP }] },
    ];
  },
};

export default config;
