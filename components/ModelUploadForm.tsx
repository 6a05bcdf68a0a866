"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass } from "./ui";

/** Model upload: manifest + ONNX file, or manifest + TF.js model.json + weight files. */
export function ModelUploadForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const [kind, setKind] = useState<"onnx" | "tfjs">("onnx");
  const upload = useMutation(trpc.models.upload.mutationOptions({ onSuccess: (m) => router.push(`/models/${m.id}`) }));
  return (
    <form
      className="flex flex-col gap-2 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        for (const [k, v] of [...form.entries()])
          if (v instanceof File && v.size === 0 && v.name === "") form.delete(k);
        upload.mutate(form);
      }}
    >
      <fieldset className="flex flex-wrap items-center gap-4">
        <legend className="sr-only-live">Model format</legend>
        <label className="flex items-center gap-1">
          <input
            type="radio"
            name="modelFormat"
            value="onnx"
            checked={kind === "onnx"}
            onChange={() => setKind("onnx")}
          />{" "}
          ONNX
        </label>
        <label className="flex items-center gap-1">
          <input
            type="radio"
            name="modelFormat"
            value="tfjs"
            checked={kind === "tfjs"}
            onChange={() => setKind("tfjs")}
          />{" "}
          TF.js layers
        </label>
      </fieldset>
      <label className="flex flex-col gap-1">
        Name (optional)
        <input name="name" className={inputClass} />
      </label>
      <label className="flex flex-col gap-1">
        Manifest (JSON: input size, normalisation, classes, layers)
        <input name="manifest" type="file" accept=".json,application/json" required />
      </label>
      {kind === "onnx" ? (
        <label className="flex flex-col gap-1">
          ONNX model
          <input name="onnx" type="file" accept=".onnx" required />
        </label>
      ) : (
        <>
          <label className="flex flex-col gap-1">
            model.json
            <input name="modelJson" type="file" accept=".json" required />
          </label>
          <label className="flex flex-col gap-1">
            Weight files (.bin)
            <input name="weights" type="file" accept=".bin" multiple required />
          </label>
        </>
      )}
      {upload.error && <ErrorBox>{upload.error.message}</ErrorBox>}
      <button className={buttonClass} disabled={upload.isPending} type="submit">
        {upload.isPending ? "Uploading…" : "Upload model"}
      </button>
    </form>
  );
}
