// Worker-thread entry: TypeScript sources load through tsx, so this works from the CLI, the job
// worker and the tests alike.
import { register } from "tsx/esm/api";

register();
await import("./engineWorkerMain.ts");
