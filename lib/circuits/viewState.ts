/**
 * Validation of what the viewer receives from the address bar and from share links (server side;
 * the types are re-exported by `./viewTypes`, which the browser bundle imports without zod).
 */
import { z } from "zod";

/** A selectable element: the logit, a group node `g<id>` or a group edge `e<id>`. */
export const nodeIdSchema = z.string().regex(/^(logit|[ge][0-9]{1,12})$/, "not a node id");

/**
 * The view a share link reproduces. `threshold` is a fraction (0..1) of the circuit's largest
 * |W| (`thresholdMode` "global") or of the largest |W| of each layer's edges ("perLayer"; absent: global): edges
 * below it are hidden, and nodes left without a visible edge with them (lib/circuits/visibility.ts).
 */
export const viewStateSchema = z.object({
  selected: nodeIdSchema.nullable().default(null),
  threshold: z.number().min(0).max(1).default(0),
  /** How `threshold` is read: of the circuit's largest |W| ("global") or of each layer's ("perLayer"). */
  thresholdMode: z.enum(["global", "perLayer"]).optional(),
  zoom: z.number().min(0.01).max(50).nullable().default(null),
  pan: z
    .object({ x: z.number().finite().min(-1e7).max(1e7), y: z.number().finite().min(-1e7).max(1e7) })
    .nullable()
    .default(null),
  heatmaps: z.boolean().default(false),
  /**
   * Size in px of the sharer's graph canvas when the link was made. `zoom` and `pan` are replayed
   * only on a canvas of that size; any other screen (a phone, a smaller window) and links made
   * before this field existed get the whole graph fitted instead.
   */
  canvas: z
    .object({ width: z.number().int().min(1).max(100_000), height: z.number().int().min(1).max(100_000) })
    .nullish(),
});
export type ViewState = z.infer<typeof viewStateSchema>;
