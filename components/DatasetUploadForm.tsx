"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass } from "./ui";

/** Dataset: a zip with one folder per class, or (admins) a folder on the server. */
export function DatasetUploadForm({ models, isAdmin }: { models: { id: number; name: string }[]; isAdmin: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [mode, setMode] = useState<"zip" | "folder">("zip");
  const formRef = useRef<HTMLFormElement>(null);
  // an added dataset clears the form, so a second click cannot add it again
  const done = {
    onSuccess: () => {
      formRef.current?.reset();
      router.refresh();
    },
  };
  const zip = useMutation(trpc.datasets.uploadZip.mutationOptions(done));
  const folder = useMutation(trpc.datasets.registerFolder.mutationOptions(done));
  const m = mode === "zip" ? zip : folder;
  return (
    <form
      ref={formRef}
      className="flex flex-col gap-2 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        if (!form.get("modelId")) form.delete("modelId");
        if (mode === "zip") zip.mutate(form);
        else
          folder.mutate({
            name: String(form.get("name") ?? ""),
            path: String(form.get("path") ?? ""),
            modelId: form.get("modelId") ? Number(form.get("modelId")) : undefined,
          });
      }}
    >
      {isAdmin && (
        <fieldset className="flex flex-wrap gap-4">
          <legend className="sr-only-live">Dataset source</legend>
          <label className="flex items-center gap-1">
            <input
              type="radio"
              name="datasetSource"
              value="zip"
              checked={mode === "zip"}
              onChange={() => setMode("zip")}
            />{" "}
            Zip upload
          </label>
          <label className="flex items-center gap-1">
            <input
              type="radio"
              name="datasetSource"
              value="folder"
              checked={mode === "folder"}
              onChange={() => setMode("folder")}
            />{" "}
            Server folder
          </label>
        </fieldset>
      )}
      <label className="flex flex-col gap-1">
        Name
        <input name="name" className={inputClass} required />
      </label>
      <label className="flex flex-col gap-1">
        Check against model (class names, minimum image size)
        <select name="modelId" className={inputClass} defaultValue="">
          <option value="">— none —</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      {mode === "zip" ? (
        <label className="flex flex-col gap-1">
          Zip (one folder per class, PNG/JPEG/WebP images)
          <input name="file" type="file" accept=".zip,application/zip" required />
        </label>
      ) : (
        <label className="flex flex-col gap-1">
          Absolute folder path on the server
          <input name="path" className={inputClass} placeholder="/data/images" required />
        </label>
      )}
      {m.error && <ErrorBox>{m.error.message}</ErrorBox>}
      {m.isSuccess && <p className="text-green-700 dark:text-green-400">Dataset added.</p>}
      <button className={buttonClass} disabled={m.isPending} type="submit">
        {m.isPending ? "Checking images…" : "Add dataset"}
      </button>
    </form>
  );
}
