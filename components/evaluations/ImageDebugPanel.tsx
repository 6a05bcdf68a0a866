"use client";
/**
 * Image debugging (uploads, or a dataset's false positives): per image the prediction, the layer's
 * groups with the highest metric M with their concept mosaic, and the image's best crops for them
 * (drawn in the browser from the stored model-size image). Group masking: mask chosen groups of a
 * layer (or all its core neurons) on the circuit's or the debugged images; class probability
 * before / after / after as many random neurons, and the patches whose class logit drops most.
 */
import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import type { DebugImagesResult } from "~/server/evaluations/compute";
import { EVALUATION_DEFAULTS, EVALUATION_LIMITS, EVALUATION_TITLES } from "~/lib/evaluations/params";
import type { DebuggedImage, GroupMaskingResult } from "~/server/neurflow";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass } from "../ui";
import { ResultPicker, Section, type EvaluationsPageData, type StoredResult } from "./shared";
import { PlotCard } from "./PlotCard";
import { maskingCsv, MaskingPlot } from "./plots";

type MaskingStored = GroupMaskingResult & { imageNames: string[]; images: "circuit" | { debugEvaluation: number } };

function Crop({ src, size, crop, box }: { src: string; size: number; crop: [number, number, number]; box: number }) {
  const [x, y, s] = crop;
  const scale = box / s;
  return (
    <div
      data-testid="debug-crop"
      title={`crop x ${x}, y ${y}, size ${s} px`}
      className="shrink-0 rounded border border-zinc-300 dark:border-zinc-600"
      style={{
        width: box,
        height: box,
        backgroundImage: `url(${src})`,
        backgroundSize: `${size * scale}px ${size * scale}px`,
        backgroundPosition: `${-x * scale}px ${-y * scale}px`,
        backgroundRepeat: "no-repeat",
      }}
    />
  );
}

function groupName(
  data: EvaluationsPageData,
  layerIndex: number,
  groupId: number,
): { rowId: number | null; label: string } {
  const g = data.layers[layerIndex]?.groups.find((x) => x.groupId === groupId);
  // `layer · gN` stays beside a label: several groups can share one
  const tag = `${data.layers[layerIndex]?.upper ?? "layer"} · g${groupId}`;
  return { rowId: g?.rowId ?? null, label: g?.label ? `${tag} · ${g.label}` : tag };
}

function DebugResult({ data, result }: { data: EvaluationsPageData; result: DebugImagesResult }) {
  const base = `/api/circuits/${data.circuit.id}`;
  const S = data.circuit.inputSize;
  return (
    <div className="flex flex-col gap-3">
      <p className="text-xs text-zinc-500">
        layer {result.layer} · crops with M ≥ {result.threshold} count as showing a concept ·{" "}
        {result.source === "falsePositives"
          ? `false positives: ${result.names.length} of ${result.scanned} images of other classes`
          : `${result.names.length} uploaded images`}
      </p>
      <ul className="flex flex-col gap-3">
        {(result.images as DebuggedImage[]).map((img, i) => {
          const src = `${base}/evaluation-images/${result.set}/${i}`;
          return (
            <li
              key={i}
              className="flex flex-wrap gap-3 border-t border-zinc-200 pt-3 dark:border-zinc-800"
              data-testid="debug-image"
            >
              <figure className="flex w-32 flex-col gap-1 text-xs">
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img
                  src={src}
                  alt={result.names[i]}
                  width={128}
                  height={128}
                  className="rounded border border-zinc-300 dark:border-zinc-600"
                  style={{ imageRendering: "auto" }}
                />
                <figcaption className="break-words">
                  {result.names[i]}
                  {result.classes?.[i] && (
                    <span className="whitespace-nowrap text-zinc-500"> (filed as {result.classes[i]})</span>
                  )}
                </figcaption>
                <span>
                  predicted <b>{data.circuit.classes[img.predicted] ?? img.predicted}</b> · p({data.circuit.className})
                  = {img.classProbability.toFixed(3)}
                </span>
              </figure>
              <div className="flex min-w-0 flex-1 flex-col gap-2">
                {img.groups.slice(0, 3).map((g) => {
                  const name = groupName(data, result.layerIndex, g.groupId);
                  return (
                    <div
                      key={g.groupId}
                      className="flex flex-wrap items-center gap-2 text-xs"
                      data-testid="debug-group"
                    >
                      {name.rowId != null && (
                        // eslint-disable-next-line @next/next/no-img-element
                        <img src={`${base}/mosaics/${name.rowId}`} alt="" width={56} height={56} className="rounded" />
                      )}
                      <div className="w-40 min-w-0 shrink">
                        <div className="font-medium">{name.label}</div>
                        <div className="text-zinc-500">
                          M = {g.score.toFixed(3)} · {g.cropsAbove} crops ≥ {result.threshold}
                        </div>
                      </div>
                      <div className="flex max-w-full gap-1 overflow-x-auto">
                        {g.topCrops.map((c, ci) => (
                          <Crop key={ci} src={src} size={S} crop={c.crop} box={48} />
                        ))}
                      </div>
                    </div>
                  );
                })}
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function MaskingResult({
  data,
  stored,
  result,
  file,
}: {
  data: EvaluationsPageData;
  stored: StoredResult;
  result: MaskingStored;
  file: (kind: string, r: StoredResult) => string;
}) {
  const base = `/api/circuits/${data.circuit.id}`;
  const p = stored.params as { layerIndex: number; groups: number[] | "core" };
  const what =
    p.groups === "core"
      ? `all ${result.neurons.length} core neurons of ${result.layer}`
      : `${p.groups.map((g) => groupName(data, p.layerIndex, g).label).join(", ")} (${result.neurons.length} neurons of ${result.layer})`;
  return (
    <div className="flex flex-col gap-3">
      <p className="text-xs text-zinc-500">
        masked: {what} · images:{" "}
        {result.images === "circuit" ? "the circuit's" : `image-debugging result #${result.images.debugEvaluation}`} ·
        random: {result.draws} draws of {result.neurons.length} of {result.layerWidth} neurons · mean p:{" "}
        {result.means.before.toFixed(3)} → {result.means.after.toFixed(3)} (random {result.means.randomAfter.toFixed(3)}
        )
      </p>
      <PlotCard
        name={file("masking", stored)}
        csv={() => maskingCsv(result, result.imageNames)}
        testId="plotcard-groupMasking"
      >
        <MaskingPlot result={result} names={result.imageNames} />
      </PlotCard>
      {result.topDropPatches.length > 0 && (
        <div>
          <h3 className="mb-1 text-sm font-medium">Patches whose class logit drops most under the mask</h3>
          <div className="flex flex-wrap gap-2">
            {result.topDropPatches.map((d) => (
              <figure key={d.patch} className="flex flex-col items-center text-xs" data-testid="drop-patch">
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img
                  src={`${base}/patches/${d.patch}`}
                  alt={`patch ${d.patch}`}
                  width={64}
                  height={64}
                  className="rounded border border-zinc-300 dark:border-zinc-600"
                />
                <figcaption className="tabular-nums">−{d.drop.toFixed(2)}</figcaption>
              </figure>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}

function Row({ children }: { children: ReactNode }) {
  return <div className="flex flex-wrap items-end gap-3 text-sm">{children}</div>;
}

export function ImageDebugPanel({
  data,
  results,
  onStarted,
  file,
}: {
  data: EvaluationsPageData;
  results: Map<string, StoredResult[]>;
  onStarted: () => void;
  file: (kind: string, r: StoredResult) => string;
}) {
  const trpc = useTRPC();
  const upload = useMutation(trpc.evaluations.startImageDebug.mutationOptions({ onSuccess: onStarted }));
  const start = useMutation(trpc.evaluations.start.mutationOptions({ onSuccess: onStarted }));
  const mask = useMutation(trpc.evaluations.start.mutationOptions({ onSuccess: onStarted }));
  const withGroups = data.layers.filter((l) => l.groups.length > 0);
  const [layer, setLayer] = useState(String(withGroups.find((l) => l.index > 0)?.index ?? withGroups[0]?.index ?? 0));
  const [topCrops, setTopCrops] = useState(String(EVALUATION_DEFAULTS.imageDebug.topCrops));
  const [threshold, setThreshold] = useState(String(EVALUATION_DEFAULTS.imageDebug.threshold));
  const [datasetId, setDatasetId] = useState(String(data.datasets[0]?.id ?? ""));
  const [limit, setLimit] = useState("16");
  const debugResults = results.get("imageDebug") ?? [];
  // the image-debugging forms start open while there are no results, and stay as the user leaves them
  const [debugOpen, setDebugOpen] = useState(debugResults.length === 0);
  // masking
  const [mLayer, setMLayer] = useState(layer);
  const [groups, setGroups] = useState<number[] | "core">([]);
  const [images, setImages] = useState("circuit");
  const [draws, setDraws] = useState(String(EVALUATION_DEFAULTS.groupMasking.draws));
  const [topPatches, setTopPatches] = useState(String(EVALUATION_DEFAULTS.groupMasking.topPatches));
  const maskLayer = data.layers[Number(mLayer)];
  const error = upload.error ?? start.error;

  return (
    <>
      <Section
        id="imageDebug"
        title={EVALUATION_TITLES.imageDebug}
        description="Which concepts of a layer does an image show? Every neuron group of the layer is scored by metric M (geometric mean over its neurons of activation / their largest activation on the circuit's patches; above 1 when a crop activates the group more than any of those patches) on multi-granularity crops of the image; the image's score is its best crop. Images are resized to the model's input size."
      >
        {data.canStart && (
          <details
            className="rounded border border-zinc-200 p-2 dark:border-zinc-700"
            open={debugOpen}
            onToggle={(e) => setDebugOpen(e.currentTarget.open)}
          >
            <summary className="cursor-pointer text-sm font-medium">Debug images…</summary>
            <div className="mt-3 flex flex-col gap-3">
              <Row>
                <label className="flex flex-col gap-1">
                  Layer
                  <select
                    className={inputClass}
                    value={layer}
                    onChange={(e) => setLayer(e.target.value)}
                    data-testid="debug-layer"
                  >
                    {withGroups.map((l) => (
                      <option key={l.index} value={l.index}>
                        {l.upper} ({l.groups.length} groups)
                      </option>
                    ))}
                  </select>
                </label>
                <label className="flex flex-col gap-1">
                  Crops per group
                  <input
                    className={inputClass}
                    type="number"
                    min={1}
                    max={EVALUATION_LIMITS.topCrops}
                    value={topCrops}
                    onChange={(e) => setTopCrops(e.target.value)}
                  />
                </label>
                <label className="flex flex-col gap-1">
                  Threshold on M
                  <input
                    className={inputClass}
                    type="number"
                    min={0}
                    max={1}
                    step={0.05}
                    value={threshold}
                    onChange={(e) => setThreshold(e.target.value)}
                  />
                </label>
              </Row>
              <form
                className="flex flex-wrap items-end gap-3 text-sm"
                data-testid="form-imageDebug"
                onSubmit={(e) => {
                  e.preventDefault();
                  const form = new FormData(e.currentTarget);
                  form.set("circuitId", String(data.circuit.id));
                  form.set("layerIndex", layer);
                  form.set("topCrops", topCrops);
                  form.set("threshold", threshold);
                  upload.mutate(form);
                }}
              >
                <label className="flex flex-col gap-1">
                  Images (PNG, JPEG or WebP; up to {EVALUATION_LIMITS.debugImages})
                  <input
                    name="images"
                    type="file"
                    multiple
                    accept="image/png,image/jpeg,image/webp"
                    required
                    data-testid="debug-files"
                  />
                </label>
                <button className={buttonClass} type="submit" disabled={upload.isPending}>
                  {upload.isPending ? "Checking images…" : "Upload and debug"}
                </button>
              </form>
              {data.datasets.length > 0 && (
                <form
                  className="flex flex-wrap items-end gap-3 text-sm"
                  data-testid="form-falsePositives"
                  onSubmit={(e) => {
                    e.preventDefault();
                    start.mutate({
                      circuitId: data.circuit.id,
                      request: {
                        kind: "imageDebug",
                        params: { layerIndex: Number(layer), topCrops: Number(topCrops), threshold: Number(threshold) },
                        falsePositives: { datasetId: Number(datasetId), limit: Number(limit) },
                      },
                    });
                  }}
                >
                  <label className="flex flex-col gap-1">
                    …or the false positives of a dataset (its other classes&apos; images the model calls “
                    {data.circuit.className}”)
                    <select className={inputClass} value={datasetId} onChange={(e) => setDatasetId(e.target.value)}>
                      {data.datasets.map((d) => (
                        <option key={d.id} value={d.id}>
                          {d.name}
                        </option>
                      ))}
                    </select>
                  </label>
                  <label className="flex flex-col gap-1">
                    At most
                    <input
                      className={inputClass}
                      type="number"
                      min={1}
                      max={EVALUATION_LIMITS.debugImages}
                      value={limit}
                      onChange={(e) => setLimit(e.target.value)}
                    />
                  </label>
                  <button className={buttonClass} type="submit" disabled={start.isPending}>
                    Find and debug
                  </button>
                </form>
              )}
            </div>
          </details>
        )}
        {error && <ErrorBox>{error.message}</ErrorBox>}
        <ResultPicker
          layers={data.layers}
          kind="imageDebug"
          results={debugResults}
          render={(r) => <DebugResult data={data} result={r.result as DebugImagesResult} />}
        />
      </Section>

      <Section
        id="groupMasking"
        title={EVALUATION_TITLES.groupMasking}
        description="Zero the neurons of chosen groups of a layer (or all its core neurons) and compare each image's class probability before and after, next to zeroing as many random neurons of the layer; the circuit's patches whose class logit drops most show what the groups mean to the class."
      >
        {data.canStart && (
          <details className="rounded border border-zinc-200 p-2 dark:border-zinc-700">
            <summary className="cursor-pointer text-sm font-medium">Mask groups…</summary>
            <form
              className="mt-3 flex flex-col gap-3 text-sm"
              data-testid="form-groupMasking"
              onSubmit={(e) => {
                e.preventDefault();
                mask.mutate({
                  circuitId: data.circuit.id,
                  request: {
                    kind: "groupMasking",
                    params: {
                      layerIndex: Number(mLayer),
                      groups,
                      draws: Number(draws),
                      topPatches: Number(topPatches),
                      images: images === "circuit" ? "circuit" : { debugEvaluation: Number(images) },
                    },
                  },
                });
              }}
            >
              <Row>
                <label className="flex flex-col gap-1">
                  Layer
                  <select
                    className={inputClass}
                    value={mLayer}
                    onChange={(e) => {
                      setMLayer(e.target.value);
                      setGroups([]);
                    }}
                  >
                    {withGroups.map((l) => (
                      <option key={l.index} value={l.index}>
                        {l.upper}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="flex flex-col gap-1">
                  Images
                  <select className={inputClass} value={images} onChange={(e) => setImages(e.target.value)}>
                    <option value="circuit">the circuit&apos;s {data.circuit.imageCount} images</option>
                    {debugResults.map((r) => (
                      <option key={r.id} value={r.id}>
                        image-debugging result #{r.id} ({(r.result as DebugImagesResult).names.length} images)
                      </option>
                    ))}
                  </select>
                </label>
                <label className="flex flex-col gap-1">
                  Random draws
                  <input
                    className={inputClass}
                    type="number"
                    min={1}
                    max={EVALUATION_LIMITS.maskDraws}
                    value={draws}
                    onChange={(e) => setDraws(e.target.value)}
                  />
                </label>
                <label className="flex flex-col gap-1">
                  Top logit-drop patches
                  <input
                    className={inputClass}
                    type="number"
                    min={0}
                    max={EVALUATION_LIMITS.topPatches}
                    value={topPatches}
                    onChange={(e) => setTopPatches(e.target.value)}
                  />
                </label>
              </Row>
              <fieldset className="flex flex-wrap gap-3">
                <legend className="mb-1">Groups</legend>
                {Number(mLayer) > 0 && (
                  <label className="flex items-center gap-1 font-medium">
                    <input
                      type="checkbox"
                      checked={groups === "core"}
                      onChange={(e) => setGroups(e.target.checked ? "core" : [])}
                    />{" "}
                    all core neurons of the layer
                  </label>
                )}
                {maskLayer?.groups.map((g) => (
                  <label key={g.groupId} className="flex items-center gap-1" data-testid="mask-group-option">
                    <input
                      type="checkbox"
                      disabled={groups === "core"}
                      checked={groups !== "core" && groups.includes(g.groupId)}
                      onChange={(e) => {
                        const cur = groups === "core" ? [] : groups;
                        setGroups(e.target.checked ? [...cur, g.groupId] : cur.filter((x) => x !== g.groupId));
                      }}
                    />
                    {/* eslint-disable-next-line @next/next/no-img-element */}
                    <img
                      src={`/api/circuits/${data.circuit.id}/mosaics/${g.rowId}`}
                      alt=""
                      width={28}
                      height={28}
                      className="rounded"
                    />
                    {g.label ?? `g${g.groupId}`} <span className="text-xs text-zinc-500">({g.neurons} neurons)</span>
                  </label>
                ))}
              </fieldset>
              <div>
                <button
                  className={buttonClass}
                  type="submit"
                  disabled={mask.isPending || (groups !== "core" && groups.length === 0)}
                >
                  Mask
                </button>
              </div>
            </form>
          </details>
        )}
        {mask.error && <ErrorBox>{mask.error.message}</ErrorBox>}
        <ResultPicker
          layers={data.layers}
          kind="groupMasking"
          results={results.get("groupMasking") ?? []}
          render={(r) => <MaskingResult data={data} stored={r} result={r.result as MaskingStored} file={file} />}
        />
      </Section>
    </>
  );
}
