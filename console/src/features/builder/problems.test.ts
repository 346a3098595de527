import { describe, expect, it } from "vitest";
import { fromDocument } from "./document";
import { locate, locateAll, nodeProblems, parsePath, problemCounts } from "./problems";

const graph = fromDocument({
  format: "fluxbilling-visual-plugin",
  plugin: { slug: "x" },
  flows: {
    provision: {
      nodes: [
        { id: "start", type: "trigger" },
        { id: "create", type: "http", path: "servers", body: { net: { mask: "{{x" } } },
      ],
      edges: [{ from: "start", to: "create" }, { from: "create", to: "nowhere" }],
    },
  },
});

describe("problem paths", () => {
  it("parses dotted paths with list indexes", () => {
    expect(parsePath("flows.provision.nodes[1].body.net.mask")).toEqual([
      "flows", "provision", "nodes", 1, "body", "net", "mask",
    ]);
  });

  it("maps a node's nested field to the node id and its top-level field", () => {
    expect(locate(graph, "flows.provision.nodes[1].body.net.mask")).toEqual({
      kind: "node", verb: "provision", nodeId: "create", field: "body", rest: "body.net.mask",
    });
  });

  it("maps an edge, a header field, a flow and the document", () => {
    const edge = locate(graph, "flows.provision.edges[1].to");
    expect(edge).toMatchObject({ kind: "edge", verb: "provision", field: "to" });
    expect(edge.kind === "edge" && edge.edgeKey).toBe(graph.flows[0]!.flow.edges?.[1]?.key);
    expect(locate(graph, "plugin.connectionType")).toEqual({ kind: "header", field: "connectionType", rest: "connectionType" });
    expect(locate(graph, "flows.reinstall")).toEqual({ kind: "flow", verb: "reinstall" });
    expect(locate(graph, "format")).toEqual({ kind: "document" });
  });

  it("a node index past the end is the flow's problem, not a crash", () => {
    expect(locate(graph, "flows.provision.nodes[9].type")).toEqual({ kind: "flow", verb: "provision" });
  });

  it("groups a node's problems by field and counts them per node", () => {
    const located = locateAll(graph, [
      { path: "flows.provision.nodes[1].body.net.mask", message: "unclosed template" },
      { path: "flows.provision.nodes[1].path", message: "bad path" },
      { path: "flows.provision.nodes[1]", message: "unreachable" },
    ]);
    const byField = nodeProblems(located, "provision", "create");
    expect(byField.get("body")).toEqual(["body.net.mask: unclosed template"]);
    expect(byField.get("path")).toEqual(["bad path"]);
    expect(byField.get("")).toEqual(["unreachable"]);
    expect(problemCounts(located, "provision").get("create")).toBe(3);
  });
});
