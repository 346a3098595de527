/**
 * The API's validation problems, located in the builder: which flow, node (by id), edge or header
 * field a JSON path such as `flows.provision.nodes[1].body.net.mask` names.
 */
import type { PluginGraph } from "./document";

export interface Problem {
  path: string;
  message: string;
}

export type Place =
  | { kind: "node"; verb: string; nodeId: string; field: string | null; rest: string }
  | { kind: "edge"; verb: string; edgeKey: string; field: string | null }
  | { kind: "flow"; verb: string }
  | { kind: "header"; field: string | null; rest: string }
  | { kind: "document" };

export interface Located extends Problem {
  place: Place;
}

/** Split `a.b[2].c` into `["a", "b", 2, "c"]` (brackets are list indexes). */
export function parsePath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const token of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (token.startsWith("[")) parts.push(Number(token.slice(1, -1)));
    else parts.push(token);
  }
  return parts;
}

function joinRest(parts: (string | number)[]): string {
  return parts.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Where in `graph` the problem at `path` is (indexes are the graph's, which the document has). */
export function locate(graph: PluginGraph, path: string): Place {
  const parts = parsePath(path);
  if (parts[0] === "plugin") {
    const field = typeof parts[1] === "string" ? parts[1] : null;
    return { kind: "header", field, rest: joinRest(parts.slice(1)) };
  }
  if (parts[0] === "flows" && typeof parts[1] === "string") {
    const verb = parts[1];
    const flow = graph.flows.find((f) => f.verb === verb)?.flow;
    if (flow && parts[2] === "nodes" && typeof parts[3] === "number") {
      const node = flow.nodes[parts[3]];
      if (node) {
        const field = typeof parts[4] === "string" ? parts[4] : null;
        return { kind: "node", verb, nodeId: node.node.id, field, rest: joinRest(parts.slice(4)) };
      }
    }
    if (flow?.edges && parts[2] === "edges" && typeof parts[3] === "number") {
      const edge = flow.edges[parts[3]];
      if (edge) {
        const field = typeof parts[4] === "string" ? parts[4] : null;
        return { kind: "edge", verb, edgeKey: edge.key, field };
      }
    }
    return { kind: "flow", verb };
  }
  return { kind: "document" };
}

/** Every problem with its place. */
export function locateAll(graph: PluginGraph, problems: Problem[]): Located[] {
  return problems.map((p) => ({ ...p, place: locate(graph, p.path) }));
}

/** The problems of one node, by the top-level field they name (`""` for the node as a whole). */
export function nodeProblems(located: Located[], verb: string, nodeId: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of located) {
    if (p.place.kind !== "node" || p.place.verb !== verb || p.place.nodeId !== nodeId) continue;
    const key = p.place.field ?? "";
    const text = p.place.rest && p.place.rest !== key ? `${p.place.rest}: ${p.message}` : p.message;
    out.set(key, [...(out.get(key) ?? []), text]);
  }
  return out;
}

/** How many problems each node of a flow has, by node id (the canvas badges). */
export function problemCounts(located: Located[], verb: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of located) {
    if (p.place.kind === "node" && p.place.verb === verb) {
      out.set(p.place.nodeId, (out.get(p.place.nodeId) ?? 0) + 1);
    }
  }
  return out;
}
