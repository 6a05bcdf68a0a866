import { configDefaults, defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: {
    alias: {
      "~": fileURLToPath(new URL(".", import.meta.url)),
      // `server-only` throws wherever Next's react-server condition is not set; the tests import
      // the modules marked with it (route helpers, the web process's context) outside Next
      "server-only": fileURLToPath(new URL("./node_modules/server-only/empty.js", import.meta.url)),
    },
  },
  test: {
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // the machine has two cores and every engine test is CPU-bound
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit+integration",
          include: ["tests/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "tests/e2e/**"],
        },
      },
      {
        // Each end-to-end file starts a Next.js server, a worker running the real engine and Chromium:
        // they run one at a time, after the other tests, so they neither starve each other nor the
        // CPU-bound engine tests (and the first one builds the app if its sources changed).
        extends: true,
        test: { name: "e2e", include: ["tests/e2e/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
