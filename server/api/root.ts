/** The app router: one thin router per concept. */
import { authRouter } from "./routers/auth";
import { circuitsRouter } from "./routers/circuits";
import { datasetsRouter } from "./routers/datasets";
import { modelsRouter } from "./routers/models";
import { runsRouter } from "./routers/runs";
import { usersRouter } from "./routers/users";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  models: modelsRouter,
  datasets: datasetsRouter,
  runs: runsRouter,
  circuits: circuitsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
