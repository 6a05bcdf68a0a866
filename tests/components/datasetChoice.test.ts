/** The dataset a form offers first: the run's own, then the model's, then the rest in listed order. */
import { describe, expect, it } from "vitest";
import { orderDatasets } from "~/components/datasetChoice";

const list = [
  { id: 5, modelId: 2 }, // newest: another model's images
  { id: 4, modelId: null },
  { id: 3, modelId: 1 },
  { id: 2, modelId: 2 },
  { id: 1, modelId: 1 },
];

describe("orderDatasets", () => {
  it("puts the model's datasets first, keeping the listed order within each rank", () => {
    expect(orderDatasets(list, { modelId: 1 }).map((d) => d.id)).toStrictEqual([3, 1, 5, 4, 2]);
  });
  it("puts the run's dataset before everything", () => {
    expect(orderDatasets(list, { datasetId: 4, modelId: 1 }).map((d) => d.id)).toStrictEqual([4, 3, 1, 5, 2]);
  });
  it("leaves the list as it is with nothing to prefer", () => {
    expect(orderDatasets(list, {}).map((d) => d.id)).toStrictEqual([5, 4, 3, 2, 1]);
    expect(orderDatasets(list, { datasetId: null, modelId: null }).map((d) => d.id)).toStrictEqual([5, 4, 3, 2, 1]);
  });
});
