/**
 * A stored circuit (`neurflow-circuit/1`), normalised: one row per layer pair, target, top patch,
 * core neuron, core-neuron edge, semantic group, neuron group (+ members), group edge and patch.
 * `idx`/`rank` columns keep the document's array order so the export is the imported document.
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { CircuitParams } from "~/server/neurflow/light";
import { models } from "./models";
import { runs } from "./runs";
import { users } from "./users";

export const circuits = sqliteTable(
  "circuits",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** The run that computed it; null for an imported document. Unique: a run stores one circuit. */
    runId: integer("run_id").references(() => runs.id, { onDelete: "set null" }),
    /** The registered model it belongs to, when known. */
    modelId: integer("model_id").references(() => models.id, { onDelete: "set null" }),
    format: text("format").notNull(),
    modelName: text("model_name").notNull(),
    modelClasses: text("model_classes", { mode: "json" }).$type<string[]>().notNull(),
    modelInputSize: integer("model_input_size").notNull(),
    modelChecksum: text("model_checksum"),
    classIndex: integer("class_index").notNull(),
    className: text("class_name").notNull(),
    params: text("params", { mode: "json" }).$type<CircuitParams>().notNull(),
    /** The document's createdAt, verbatim. */
    createdAt: text("created_at").notNull(),
    timings: text("timings", { mode: "json" }).$type<Record<string, number>>(),
    layerCount: integer("layer_count").notNull(),
    targetCount: integer("target_count").notNull(),
    neuronGroupCount: integer("neuron_group_count").notNull(),
    patchCount: integer("patch_count").notNull(),
    storedAt: integer("stored_at").notNull(),
    storedBy: integer("stored_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [uniqueIndex("circuits_run_uq").on(t.runId), index("circuits_model_class_idx").on(t.modelId, t.className)],
);

const circuitRef = () =>
  integer("circuit_id")
    .notNull()
    .references(() => circuits.id, { onDelete: "cascade" });

export const circuitImages = sqliteTable(
  "circuit_images",
  { circuitId: circuitRef(), idx: integer("idx").notNull(), name: text("name").notNull() },
  (t) => [primaryKey({ columns: [t.circuitId, t.idx] })],
);

/** [imageIndex, x, y, size] in pixels of the model-size image. */
export const circuitPatches = sqliteTable(
  "circuit_patches",
  {
    circuitId: circuitRef(),
    idx: integer("idx").notNull(),
    imageIdx: integer("image_idx").notNull(),
    x: integer("x").notNull(),
    y: integer("y").notNull(),
    size: integer("size").notNull(),
  },
  (t) => [primaryKey({ columns: [t.circuitId, t.idx] })],
);

export const circuitLayers = sqliteTable(
  "circuit_layers",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    circuitId: circuitRef(),
    /** 0 = the top pair (logit layer ← next one down). */
    idx: integer("idx").notNull(),
    upper: text("upper").notNull(),
    lower: text("lower").notNull(),
    timings: text("timings", { mode: "json" }).$type<Record<string, number>>(),
  },
  (t) => [uniqueIndex("circuit_layers_uq").on(t.circuitId, t.idx)],
);

const layerRef = () =>
  integer("layer_id")
    .notNull()
    .references(() => circuitLayers.id, { onDelete: "cascade" });

export const circuitTargets = sqliteTable(
  "circuit_targets",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    layerId: layerRef(),
    idx: integer("idx").notNull(),
    /** Channel (unit) of the upper layer. */
    neuron: integer("neuron").notNull(),
    /** One score per channel of the lower layer (a dense vector, kept as JSON). */
    importance: text("importance", { mode: "json" }).$type<number[]>().notNull(),
    igCompleteness: real("ig_completeness"),
    /** Neuron-level hypertree layout, computed when stored. */
    layoutX: real("layout_x"),
    layoutY: real("layout_y"),
  },
  (t) => [
    uniqueIndex("circuit_targets_uq").on(t.layerId, t.idx),
    index("circuit_targets_neuron_idx").on(t.layerId, t.neuron),
  ],
);

const targetRef = () =>
  integer("target_id")
    .notNull()
    .references(() => circuitTargets.id, { onDelete: "cascade" });

/** A target's top-k patches, descending activation, with each patch's semantic group. */
export const targetTopPatches = sqliteTable(
  "target_top_patches",
  {
    targetId: targetRef(),
    rank: integer("rank").notNull(),
    patchIdx: integer("patch_idx").notNull(),
    activation: real("activation").notNull(),
    semanticGroup: integer("semantic_group").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.rank] })],
);

/** Core concept neurons of a target (channels of the lower layer), descending importance. */
export const coreNeurons = sqliteTable(
  "core_neurons",
  { targetId: targetRef(), rank: integer("rank").notNull(), neuron: integer("neuron").notNull() },
  (t) => [primaryKey({ columns: [t.targetId, t.rank] })],
);

/** Core neuron → target edge, one per semantic group of the target. */
export const coreNeuronEdges = sqliteTable(
  "core_neuron_edges",
  {
    targetId: targetRef(),
    idx: integer("idx").notNull(),
    semanticGroup: integer("semantic_group").notNull(),
    neuron: integer("neuron").notNull(),
    weight: real("weight").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.idx] }), index("core_neuron_edges_neuron_idx").on(t.targetId, t.neuron)],
);

/**
 * Semantic groups of each target (derived on store from the top patches and neuron groups, for
 * queries; the export does not read this table).
 */
export const semanticGroups = sqliteTable(
  "semantic_groups",
  {
    targetId: targetRef(),
    semanticGroup: integer("semantic_group").notNull(),
    patchCount: integer("patch_count").notNull(),
    /** Row id of the neuron group it falls in, if any. */
    neuronGroupId: integer("neuron_group_id").references(() => neuronGroups.id, { onDelete: "set null" }),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.semanticGroup] })],
);

export const neuronGroups = sqliteTable(
  "neuron_groups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    layerId: layerRef(),
    /** Position in the layer's neuronGroups array. */
    idx: integer("idx").notNull(),
    /** The document's group id (unique within the layer). */
    groupId: integer("group_id").notNull(),
    /** Number of distinct patches in the group's concept (union of its semantic groups). */
    patchCount: integer("patch_count").notNull(),
    /** Concept-circuit layout (layer = rank, logit on top), computed when stored. */
    layoutX: real("layout_x").notNull(),
    layoutY: real("layout_y").notNull(),
  },
  (t) => [
    uniqueIndex("neuron_groups_uq").on(t.layerId, t.idx),
    index("neuron_groups_gid_idx").on(t.layerId, t.groupId),
  ],
);

export const neuronGroupMembers = sqliteTable(
  "neuron_group_members",
  {
    neuronGroupId: integer("neuron_group_id")
      .notNull()
      .references(() => neuronGroups.id, { onDelete: "cascade" }),
    idx: integer("idx").notNull(),
    neuron: integer("neuron").notNull(),
    semanticGroup: integer("semantic_group").notNull(),
  },
  (t) => [primaryKey({ columns: [t.neuronGroupId, t.idx] })],
);

/** Edge from a neuron group one step down (child) to a group of this layer (parent). */
export const groupEdges = sqliteTable(
  "group_edges",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    layerId: layerRef(),
    idx: integer("idx").notNull(),
    child: integer("child").notNull(),
    parent: integer("parent").notNull(),
    weight: real("weight").notNull(),
  },
  (t) => [uniqueIndex("group_edges_uq").on(t.layerId, t.idx)],
);
