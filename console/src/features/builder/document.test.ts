import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { type JsonObject, drawnEdges, emptyDocument, fromDocument, toDocument } from "./document";

const BUILTIN = resolve(__dirname, "../../../../src/fluxbilling/plugins_builtin") + "/";
const shipped = readdirSync(BUILTIN).filter((name) => name.endsWith(".json"));

function load(name: string): JsonObject {
  return JSON.parse(readFileSync(BUILTIN + name, "utf8")) as JsonObject;
}

describe("document <-> graph", () => {
  it("finds the shipped plugins", () => {
    expect(shipped.length).toBeGreaterThanOrEqual(4);
  });

  it.each(shipped)("round-trips %s losslessly, key order included", (name) => {
    const document = load(name);
    const again = toDocument(fromDocument(document));
    expect(again).toEqual(document);
    expect(JSON.stringify(again)).toBe(JSON.stringify(document));
  });

  it("keeps a flow without edges without edges, and an omitted port omitted", () => {
    const document: JsonObject = {
      format: "fluxbilling-visual-plugin",
      plugin: { slug: "x", type: "infrastructure-provider", serviceType: "vps" },
      flows: {
        suspend: { nodes: [{ id: "start", type: "trigger" }, { id: "go", type: "http", path: "s" }] },
        provision: {
          nodes: [{ id: "start", type: "trigger" }, { id: "go", type: "http", path: "s" }],
          edges: [{ from: "start", to: "go" }, { from: "go", port: "error", to: "start" }],
        },
      },
      extra_unknown_key: 1,
    };
    expect(JSON.stringify(toDocument(fromDocument(document)))).toBe(JSON.stringify(document));
  });

  it("draws a list-order flow as implicit wires up to a node that ends it", () => {
    const graph = fromDocument({
      format: "fluxbilling-visual-plugin",
      plugin: {},
      flows: {
        terminate: {
          nodes: [
            { id: "start", type: "trigger" },
            { id: "stop", type: "done" },
            { id: "after", type: "http", path: "x" },
          ],
        },
      },
    });
    const wires = drawnEdges(graph.flows[0]!.flow);
    expect(wires).toEqual([{ key: "next:start", from: "start", to: "stop", port: "ok", implicit: true }]);
  });

  it("reads an empty edge list as list order, as the API does", () => {
    const graph = fromDocument({
      format: "fluxbilling-visual-plugin",
      plugin: {},
      flows: { provision: { nodes: [{ id: "start", type: "trigger" }, { id: "go", type: "http", path: "x" }], edges: [] } },
    });
    expect(drawnEdges(graph.flows[0]!.flow).map((e) => [e.from, e.to, e.implicit])).toEqual([["start", "go", true]]);
  });

  it("gives an empty plugin a trigger in its provision flow", () => {
    const graph = fromDocument(emptyDocument("acme"));
    expect(graph.flows.map((f) => f.verb)).toEqual(["provision"]);
    expect(graph.flows[0]!.flow.nodes[0]!.node).toEqual({ id: "start", type: "trigger" });
  });
});
