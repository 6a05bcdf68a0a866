/** The app router: one thin router per concept. */
import { authRouter } from "./routers/auth";
import { circuitBrowseRouter } from "./routers/circuitBrowse";
import { circuitCompareRouter } from "./routers/circuitCompare";
import { circuitGraphRouter } from "./routers/circuitGraph";
import { circuitsRouter } from "./routers/circuits";
import { datasetsRouter } from "./routers/datasets";
import { evaluationsRouter } from "./routers/evaluations";
import { labelsRouter } from "./routers/labels";
import { modelsRouter } from "./routers/models";
import { patchContextRouter } from "./routers/patchContext";
import { heatmapsRouter } from "./routers/heatmaps";
import { runsRouter } from "./routers/runs";
import { shareLinksRouter } from "./routers/shareLinks";
import { usersRouter } from "./routers/users";
import { workersRouter } from "./routers/workers";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  workers: workersRouter,
  models: modelsRouter,
  datasets: datasetsRouter,
  runs: runsRouter,
  circuits: circuitsRouter,
  circuitGraph: circuitGraphRouter,
  circuitBrowse: circuitBrowseRouter,
  circuitCompare: circuitCompareRouter,
  shareLinks: shareLinksRouter,
  heatmaps: heatmapsRouter,
  patchContext: patchContextRouter,
  labels: labelsRouter,
  evaluations: evaluationsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
