/**
 * A plugin document as the builder edits it, and back: lossless in both directions.
 *
 * The document (`fluxbilling-visual-plugin`) is the contract; the builder's graph only adds what
 * a canvas needs (a position per node, a stable key per edge) and keeps everything else as the
 * document had it: each node's object with its keys in their order, each edge's object (an omitted
 * `port` stays omitted), whether a flow has `edges` at all (without them the nodes run in list
 * order, which the canvas draws as dashed "next" wires that are not part of the document), and
 * every other top-level key. `toDocument(fromDocument(d))` is `d`, key order included.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A node of the document: `id`, `type` and that type's parameters. */
export type NodeObject = JsonObject & { id: string; type: string };

/** An edge of the document: from a named port of one node to another node, by id. */
export interface EdgeObject {
  from: string;
  to: string;
  port?: string;
}

export interface Position {
  x: number;
  y: number;
}

export interface GraphNode {
  node: NodeObject;
  position: Position;
}

export interface GraphEdge {
  /** Stable key for the canvas (never written to the document). */
  key: string;
  edge: EdgeObject;
}

export interface FlowGraph {
  nodes: GraphNode[];
  /** null: the flow has no `edges` key. Without edges (null or empty) its nodes run in list order. */
  edges: GraphEdge[] | null;
  /** Keys of the flow object other than nodes/edges (kept as they were). */
  extra: JsonObject;
  /** The flow's keys in document order (so a round trip keeps it). */
  keyOrder: string[];
}

export interface PluginGraph {
  /** Top-level keys in document order, with the values of those that are not `flows`. */
  top: JsonObject;
  topOrder: string[];
  /** Flows in document order. */
  flows: { verb: string; flow: FlowGraph }[];
}

export const FORMAT = "fluxbilling-visual-plugin";

let edgeCounter = 0;

/** A fresh edge key, unique in this page's life. */
export function newEdgeKey(): string {
  edgeCounter += 1;
  return `e${edgeCounter}`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Lay nodes on a simple grid until the auto-layout has placed them. */
function gridPosition(index: number): Position {
  return { x: 40 + (index % 4) * 240, y: 40 + Math.floor(index / 4) * 140 };
}

function flowFromDocument(raw: Json): FlowGraph {
  const flow = isObject(raw) ? raw : {};
  const nodesRaw = Array.isArray(flow.nodes) ? flow.nodes : [];
  const nodes = nodesRaw.map((node, index) => ({
    node: (isObject(node) ? node : { id: "", type: "" }) as NodeObject,
    position: gridPosition(index),
  }));
  let edges: GraphEdge[] | null = null;
  if ("edges" in flow && Array.isArray(flow.edges)) {
    edges = flow.edges.map((edge) => ({ key: newEdgeKey(), edge: edge as unknown as EdgeObject }));
  }
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(flow)) {
    if (key !== "nodes" && !(key === "edges" && Array.isArray(value))) extra[key] = value;
  }
  return { nodes, edges, extra, keyOrder: Object.keys(flow) };
}

function flowToDocument(flow: FlowGraph): JsonObject {
  const out: JsonObject = {};
  const keys = [...flow.keyOrder];
  if (!keys.includes("nodes")) keys.unshift("nodes");
  if (flow.edges !== null && !keys.includes("edges")) keys.push("edges");
  for (const key of keys) {
    if (key === "nodes") out.nodes = flow.nodes.map((n) => n.node);
    else if (key === "edges" && flow.edges !== null) {
      out.edges = flow.edges.map((e) => e.edge as unknown as JsonObject);
    } else if (flow.extra[key] !== undefined) out[key] = flow.extra[key];
  }
  return out;
}

/** The builder's graph of a document (positions on a grid: lay it out afterwards). */
export function fromDocument(document: JsonObject): PluginGraph {
  const top: JsonObject = {};
  const flows: PluginGraph["flows"] = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === "flows" && isObject(value)) {
      for (const [verb, flow] of Object.entries(value)) {
        flows.push({ verb, flow: flowFromDocument(flow) });
      }
    } else {
      top[key] = value;
    }
  }
  return { top, topOrder: Object.keys(document), flows };
}

/** The document of a graph: what is saved, validated, tested and exported. */
export function toDocument(graph: PluginGraph): JsonObject {
  const out: JsonObject = {};
  const keys = [...graph.topOrder];
  for (const key of ["format", "plugin", "flows"]) if (!keys.includes(key)) keys.push(key);
  for (const key of keys) {
    if (key === "flows") {
      const flows: JsonObject = {};
      for (const { verb, flow } of graph.flows) flows[verb] = flowToDocument(flow);
      out.flows = flows;
    } else if (graph.top[key] !== undefined) {
      out[key] = graph.top[key];
    }
  }
  return out;
}

/** An empty plugin: a header and a provision flow with its trigger. */
export function emptyDocument(slug = "my-panel"): JsonObject {
  return {
    format: FORMAT,
    plugin: {
      slug,
      type: "infrastructure-provider",
      serviceType: "vps",
      connectionType: "http",
      capabilities: { canProvision: true },
    },
    flows: { provision: { nodes: [{ id: "start", type: "trigger" }], edges: [] } },
  };
}

/** The plugin header (`plugin`) of a graph, or an empty object. */
export function header(graph: PluginGraph): JsonObject {
  const value = graph.top.plugin;
  return isObject(value) ? value : {};
}

/**
 * The wires the canvas draws for a flow: its edges, or, for a flow without edges (no `edges` or an
 * empty list, as the API reads it), each node to the next in list order (`implicit`), up to a
 * node that ends the flow.
 */
export function drawnEdges(
  flow: FlowGraph,
): { key: string; from: string; to: string; port: string; implicit: boolean }[] {
  if (flow.edges !== null && flow.edges.length > 0) {
    return flow.edges.map(({ key, edge }) => ({
      key,
      from: edge.from,
      to: edge.to,
      port: edge.port ?? "ok",
      implicit: false,
    }));
  }
  const out = [];
  for (let i = 0; i + 1 < flow.nodes.length; i += 1) {
    const from = flow.nodes[i]!.node;
    if (from.type === "fail" || from.type === "done") break;
    out.push({
      key: `next:${from.id}`,
      from: from.id,
      to: flow.nodes[i + 1]!.node.id,
      port: "ok",
      implicit: true,
    });
  }
  return out;
}

/** The explicit edges equal to a list-order flow's implicit ones (when the user adds a wire). */
export function explicitEdges(flow: FlowGraph): GraphEdge[] {
  if (flow.edges !== null && flow.edges.length > 0) return flow.edges;
  return drawnEdges(flow).map((e) => ({ key: newEdgeKey(), edge: { from: e.from, to: e.to } }));
}
