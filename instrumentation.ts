/** Next.js calls `register` once when a server process starts (server/startup.ts). */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { onServerStart } = await import("~/server/startup");
  await onServerStart();
}
