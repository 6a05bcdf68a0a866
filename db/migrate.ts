/** `npm run db:migrate`: creates the database (NEURFLOW_DB) if needed and applies every migration. */
import { defaultDbPath, openDb } from "./client";

const path = defaultDbPath();
openDb(path).$client.close();
console.log(`database ${path} is at the latest schema`);
