/**
 * What the web process does once when it starts (instrumentation.ts calls it in Next.js): stamp
 * every request it receives with its socket's address (`installPeerStamp`, for the per-address rate
 * limits; NEURFLOW_TRUST_PROXY is checked here, so a bad value stops the start), and remove
 * the temp folders of uploads that a previous process left behind when it was killed mid-upload
 * (`<data>/tmp/upload-*`: streamed forms and half-written models or datasets). Only this process
 * kind writes them, and none of its uploads is in flight yet. Other temp folders (the workers'
 * `evaluation-*`) are left alone.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { installPeerStamp, trustedProxyHops } from "~/server/security/clientAddress";
import { storageRoot, tmpDir } from "~/server/storage/paths";

/** Removes `<root>/tmp/upload-*`; returns the names removed. */
export async function sweepUploadTemps(root = storageRoot()): Promise<string[]> {
  const dir = tmpDir(root);
  const names = await readdir(dir).catch(() => [] as string[]);
  const swept: string[] = [];
  for (const name of names)
    if (name.startsWith("upload-")) {
      await rm(join(dir, name), { recursive: true, force: true });
      swept.push(name);
    }
  return swept;
}

export async function onServerStart(): Promise<void> {
  trustedProxyHops();
  installPeerStamp();
  const swept = await sweepUploadTemps();
  if (swept.length) console.log(`removed ${swept.length} temp upload folder(s) left by an earlier server process`);
}
