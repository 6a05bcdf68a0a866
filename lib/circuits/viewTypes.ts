/**
 * What the circuit viewer receives and keeps (isomorphic: imported by the server routers and by
 * the client components; no Node imports here).
 */

/** Request header carrying a share-link token to the tRPC endpoint. */
export const SHARE_HEADER = "x-neurflow-share";

/**
 * The view a share link reproduces (validated by `viewStateSchema` in `./viewState`, kept apart so
 * that zod stays out of the viewer's browser bundle). `threshold` is a fraction (0..1) of the
 * circuit's largest |W|.
 */
export type { ViewState } from "./viewState";

export interface GraphMember {
  neuron: number;
  semanticGroup: number;
  /** Top patches of the neuron in this semantic group. */
  patchCount: number;
}

export interface GraphGroup {
  /** Row id of the neuron group (stable: circuits are immutable once stored). */
  id: number;
  /** Index of the layer pair; the group's neurons are channels of `layers[layer]`. */
  layer: number;
  /** The document's group id within its layer. */
  groupId: number;
  x: number;
  y: number;
  patchCount: number;
  members: GraphMember[];
  /** The concept's patches (indices into the circuit's patches), strongest activation first; at most MAX_GROUP_PATCHES. */
  patches: number[];
  /** The current label text, when the group has one (plain text; rendered as text). */
  label: string | null;
}

export interface GraphEdge {
  /** Row id of the group edge. */
  id: number;
  /** Child group row id (one rank down). */
  source: number;
  /** Parent group row id. */
  target: number;
  weight: number;
  /** The current explanation of how the child builds the parent, when it has one (plain text). */
  explanation: string | null;
}

export interface CircuitGraph {
  circuit: {
    id: number;
    modelId: number | null;
    modelName: string;
    className: string;
    classIndex: number;
    tau: number;
    k: number;
    inputSize: number;
    /** Layer name of each rank, top-down: the uppers of every layer pair. */
    layers: string[];
    /** Every layer of the run, top-down: `layers` and the lowest pair's lower layer (whose core neurons have no groups). */
    chain: string[];
    patchCount: number;
    createdAt: string;
    /** Whether the dataset images are reachable, so patches can be drawn. */
    hasImages: boolean;
  };
  groups: GraphGroup[];
  edges: GraphEdge[];
  /** Top rank's groups → logit, weighted by the share of the logit's top patches each holds. */
  logitEdges: { group: number; weight: number }[];
  /** Position of the logit node. */
  logit: { x: number; y: number };
}

export const MAX_GROUP_PATCHES = 24;
/** Patches shown in a node's mosaic (a 2×2 grid). */
export const MOSAIC_PATCHES = 4;

/** The neuron-level hypertree around one target neuron. */
export interface Hypertree {
  layer: number;
  upper: string;
  lower: string;
  neuron: number;
  /** The neuron's semantic groups with their top patches (strongest first, at most MAX_GROUP_PATCHES) and the neuron's activation on each. */
  semanticGroups: {
    semanticGroup: number;
    patches: number[];
    activations: number[];
    /** All of the neuron's top patches in this semantic group. */
    patchCount: number;
    /** Row id of the neuron group the semantic group belongs to. */
    neuronGroup: number | null;
  }[];
  /** The neuron's activation on its strongest top patch. */
  topActivation: number | null;
  /** Core neurons (channels of `lower`), with their edge weight to each semantic group. */
  coreNeurons: {
    neuron: number;
    rank: number;
    importance: number;
    edges: { semanticGroup: number; weight: number }[];
    /** A target one layer down (the hypertree goes on below it). */
    isTarget: boolean;
    /** Its strongest top patch when it is a target (only targets have top patches), and its activation there. */
    topPatch: number | null;
    topActivation: number | null;
  }[];
  /** Targets one layer up that have this neuron as a core neuron, with their per-semantic-group edges and strongest top patch. */
  parents: {
    neuron: number;
    edges: { semanticGroup: number; weight: number }[];
    topPatch: number | null;
    topActivation: number | null;
  }[];
  igCompleteness: number | null;
}

/** Where a group's concept patches come from and how strongly the group responds to them (the patch panel). */
export interface GroupPatchContext {
  group: number;
  /** Layer name of the group's neurons. */
  layer: string;
  inputSize: number;
  patches: {
    patch: number;
    imageIdx: number;
    imageName: string;
    /** The crop's box in pixels of the model-size image. */
    x: number;
    y: number;
    size: number;
    /** Crop side / input side (1, ½, ¼ with the default granularities). */
    granularity: number;
    /** The strongest member neuron's activation on it (stored with the circuit), that neuron, and the patch's rank among its top patches. */
    activation: number | null;
    neuron: number | null;
    rank: number | null;
    /** Metric M of the group on it and the fraction of all patches below, once computed. */
    m: number | null;
    below: number | null;
  }[];
  /** Metric M of the group over all of the circuit's patches (null until computed). */
  histogram: { max: number; counts: number[]; above: number; patches: number } | null;
  job: { id: number; status: string; progress: number; error: string | null } | null;
  /** The model and images are on this server, so the histogram can be computed. */
  canCompute: boolean;
}

/** Same-origin image URLs of a circuit; a share-link holder's carry the token (images cannot send headers). */
export function imageUrls(circuitId: number, shareToken: string | null) {
  const q = shareToken ? `?share=${encodeURIComponent(shareToken)}` : "";
  const base = `/api/circuits/${circuitId}`;
  return {
    patch: (idx: number) => `${base}/patches/${idx}${q}`,
    /** Source image `idx` of the circuit at the model's input size (what the model saw). */
    image: (idx: number) => `${base}/images/${idx}${q}`,
    mosaic: (groupRowId: number) => `${base}/mosaics/${groupRowId}${q}`,
    heatmap: (groupRowId: number, idx: number) => `${base}/heatmaps/${groupRowId}/${idx}${q}`,
    og: `${base}/og${q}`,
    thumb: `${base}/thumb${q}`,
  };
}
