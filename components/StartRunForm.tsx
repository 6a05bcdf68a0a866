"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass } from "./ui";

interface Props {
  modelId: number;
  classes: string[];
  /** Top-down. */
  layers: string[];
  /** In the order to offer them (the first is the default); `forModel`: registered for this model. */
  datasets: { id: number; name: string; forModel: boolean; classes: string[] }[];
}

/** Quadrature nodes per preset (server/neurflow/presets.ts): the 15-node Gauss–Kronrod rule, or the authors' 50. */
const PRESET_STEPS = { default: 15, reference: 50 } as const;

/** Start a circuit run: class, dataset, τ, k, N and the layers (from the manifest). */
export function StartRunForm({ modelId, classes, layers, datasets }: Props) {
  const trpc = useTRPC();
  const router = useRouter();
  const [picked, setPicked] = useState<string[]>(layers.slice(0, Math.min(4, layers.length)));
  const [preset, setPreset] = useState<keyof typeof PRESET_STEPS>("default");
  // the class list follows the dataset: a class without images there cannot be run
  const classesOf = (id: number) => new Set(datasets.find((d) => d.id === id)?.classes ?? []);
  const [datasetId, setDatasetId] = useState(datasets[0]?.id ?? 0);
  const has = classesOf(datasetId);
  const [className, setClassName] = useState(classes.find((c) => has.has(c)) ?? classes[0] ?? "");
  // N follows the preset until the user types a value of their own
  const [steps, setSteps] = useState<string | null>(null);
  const start = useMutation(trpc.runs.start.mutationOptions({ onSuccess: (r) => router.push(`/runs/${r.id}`) }));
  if (datasets.length === 0)
    return <p className="text-sm text-zinc-500">Add a dataset with images of this model&apos;s classes first.</p>;
  return (
    <form
      className="flex flex-col gap-3 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        start.mutate({
          modelId,
          datasetId,
          className,
          layers: picked,
          tau: Number(f.get("tau")),
          k: Number(f.get("k")),
          igSteps: Number(f.get("igSteps")),
          preset,
        });
      }}
    >
      <div className="grid grid-cols-2 gap-3">
        <label className="flex flex-col gap-1">
          Class
          <select
            name="className"
            className={inputClass}
            value={className}
            onChange={(e) => setClassName(e.target.value)}
          >
            {classes.map((c) => (
              <option key={c} value={c} disabled={!has.has(c)}>
                {c}
                {has.has(c) ? "" : " (no images in this dataset)"}
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col gap-1">
          Dataset
          <select
            name="datasetId"
            className={`${inputClass} max-w-full`}
            value={datasetId}
            onChange={(e) => {
              const id = Number(e.target.value);
              setDatasetId(id);
              const now = classesOf(id);
              if (!now.has(className)) setClassName(classes.find((c) => now.has(c)) ?? className);
            }}
          >
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
                {d.forModel ? " (for this model)" : ""}
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col gap-1" title="core concept neurons kept per target">
          τ (core neurons per target)
          <input name="tau" type="number" required min={1} max={64} defaultValue={16} className={inputClass} />
        </label>
        <label className="flex flex-col gap-1" title="top patches per neuron">
          k (top patches per neuron)
          <input name="k" type="number" required min={2} max={1000} defaultValue={50} className={inputClass} />
        </label>
        <label className="flex flex-col gap-1" title="integrated-gradients quadrature nodes">
          N (integrated-gradients steps)
          <input
            name="igSteps"
            type="number"
            required
            min={1}
            max={300}
            value={steps ?? PRESET_STEPS[preset]}
            onChange={(e) => setSteps(e.target.value)}
            className={inputClass}
          />
        </label>
        <label className="flex flex-col gap-1">
          Preset
          <select
            name="preset"
            className={inputClass}
            value={preset}
            onChange={(e) => setPreset(e.target.value === "reference" ? "reference" : "default")}
          >
            <option value="default">default</option>
            <option value="reference">reference (authors&apos; code)</option>
          </select>
        </label>
      </div>
      <fieldset className="flex flex-col gap-1">
        <legend className="mb-1">Layers (top-down; pick at least two)</legend>
        <div className="flex flex-wrap gap-3">
          {layers.map((l) => (
            <label key={l} className="flex items-center gap-1">
              <input
                type="checkbox"
                name="layer"
                value={l}
                checked={picked.includes(l)}
                onChange={(e) =>
                  setPicked((p) =>
                    e.target.checked ? layers.filter((x) => x === l || p.includes(x)) : p.filter((x) => x !== l),
                  )
                }
              />
              {l}
            </label>
          ))}
        </div>
      </fieldset>
      {start.error && <ErrorBox>{start.error.message}</ErrorBox>}
      <button className={buttonClass} disabled={start.isPending || picked.length < 2} type="submit">
        Start run
      </button>
    </form>
  );
}
