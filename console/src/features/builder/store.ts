/**
 * The builder's local state in one reducer: the graph being edited, the open flow, the selection,
 * the undo/redo history and the clipboard. Pure (`builderReducer(state, action)`), so undo/redo and
 * copy/paste are unit-tested without a browser. Server state (versions, validation) stays in
 * TanStack Query.
 */
import {
  type FlowGraph,
  type GraphEdge,
  type JsonObject,
  type NodeObject,
  type PluginGraph,
  type Position,
  explicitEdges,
  newEdgeKey,
} from "./document";

const HISTORY = 100;

export interface Clipboard {
  nodes: { node: NodeObject; position: Position }[];
  edges: { from: string; to: string; port?: string }[];
}

export interface BuilderState {
  graph: PluginGraph;
  /** The flow on the canvas (a verb), or `"plugin"` for the header. */
  tab: string;
  selected: string[];
  past: PluginGraph[];
  future: PluginGraph[];
  clipboard: Clipboard | null;
  /** Bumped by every change of the graph (the validation's debounce key). */
  revision: number;
}

export type BuilderAction =
  | { kind: "load"; graph: PluginGraph; tab?: string }
  | { kind: "tab"; tab: string }
  | { kind: "select"; ids: string[] }
  | { kind: "addNode"; node: NodeObject; position: Position }
  | { kind: "updateNode"; id: string; node: NodeObject }
  | { kind: "moveNodes"; positions: Record<string, Position>; record: boolean }
  | { kind: "connect"; from: string; port: string; to: string }
  | { kind: "removeEdges"; keys: string[] }
  | { kind: "removeNodes"; ids: string[] }
  | { kind: "setTop"; key: string; value: JsonObject | string }
  | { kind: "addFlow"; verb: string }
  | { kind: "removeFlow"; verb: string }
  | { kind: "layout"; verb: string; positions: Record<string, Position> }
  | { kind: "undo" }
  | { kind: "redo" }
  | { kind: "copy" }
  | { kind: "paste" };

export function initialState(graph: PluginGraph): BuilderState {
  return {
    graph,
    tab: graph.flows[0]?.verb ?? "plugin",
    selected: [],
    past: [],
    future: [],
    clipboard: null,
    revision: 0,
  };
}

/** A node id not yet used in `flow`, from `base` (`http`, `http_2`, ...). */
export function freeId(flow: FlowGraph, base: string): string {
  const used = new Set(flow.nodes.map((n) => n.node.id));
  const clean = /^[A-Za-z_]/.test(base) ? base.replace(/[^A-Za-z0-9_]/g, "_") : `n_${base}`;
  if (!used.has(clean)) return clean;
  for (let i = 2; ; i += 1) if (!used.has(`${clean}_${i}`)) return `${clean}_${i}`;
}

function withFlow(graph: PluginGraph, verb: string, change: (flow: FlowGraph) => FlowGraph): PluginGraph {
  return {
    ...graph,
    flows: graph.flows.map((f) => (f.verb === verb ? { verb, flow: change(f.flow) } : f)),
  };
}

function currentFlow(state: BuilderState): FlowGraph | undefined {
  return state.graph.flows.find((f) => f.verb === state.tab)?.flow;
}

/** A change to the graph that undo can take back. */
function commit(state: BuilderState, graph: PluginGraph, extra: Partial<BuilderState> = {}): BuilderState {
  if (graph === state.graph) return state;
  return {
    ...state,
    ...extra,
    graph,
    past: [...state.past, state.graph].slice(-HISTORY),
    future: [],
    revision: state.revision + 1,
  };
}

function renameInEdges(edges: GraphEdge[] | null, from: string, to: string): GraphEdge[] | null {
  if (edges === null || from === to) return edges;
  return edges.map((e) => ({
    key: e.key,
    edge: {
      ...e.edge,
      from: e.edge.from === from ? to : e.edge.from,
      to: e.edge.to === from ? to : e.edge.to,
    },
  }));
}

function connect(flow: FlowGraph, from: string, port: string, to: string): FlowGraph {
  // Each port is wired at most once: a new wire from a port replaces the old one.
  const kept = explicitEdges(flow).filter((e) => !(e.edge.from === from && (e.edge.port ?? "ok") === port));
  const edge = port === "ok" ? { from, to } : { from, port, to };
  return { ...flow, edges: [...kept, { key: newEdgeKey(), edge }] };
}

function copy(state: BuilderState): BuilderState {
  const flow = currentFlow(state);
  if (!flow || state.selected.length === 0) return state;
  const ids = new Set(state.selected);
  const nodes = flow.nodes.filter((n) => ids.has(n.node.id) && n.node.type !== "trigger");
  const edges = (flow.edges ?? [])
    .map((e) => e.edge)
    .filter((e) => ids.has(e.from) && ids.has(e.to));
  return { ...state, clipboard: { nodes: structuredClone(nodes), edges: structuredClone(edges) } };
}

function paste(state: BuilderState): BuilderState {
  const flow = currentFlow(state);
  if (!flow || !state.clipboard || state.clipboard.nodes.length === 0) return state;
  const renamed = new Map<string, string>();
  let next = flow;
  for (const { node, position } of state.clipboard.nodes) {
    const id = freeId(next, node.id);
    renamed.set(node.id, id);
    next = {
      ...next,
      nodes: [...next.nodes, { node: { ...structuredClone(node), id }, position: { x: position.x + 40, y: position.y + 40 } }],
    };
  }
  for (const edge of state.clipboard.edges) {
    next = connect(next, renamed.get(edge.from) ?? edge.from, edge.port ?? "ok", renamed.get(edge.to) ?? edge.to);
  }
  const graph = withFlow(state.graph, state.tab, () => next);
  return commit(state, graph, { selected: [...renamed.values()] });
}

function editFlow(state: BuilderState, action: BuilderAction): BuilderState {
  const verb = state.tab;
  const flow = currentFlow(state);
  if (!flow) return state;
  switch (action.kind) {
    case "addNode":
      return commit(
        state,
        withFlow(state.graph, verb, (f) => ({ ...f, nodes: [...f.nodes, { node: action.node, position: action.position }] })),
        { selected: [action.node.id] },
      );
    case "updateNode": {
      const graph = withFlow(state.graph, verb, (f) => ({
        ...f,
        nodes: f.nodes.map((n) => (n.node.id === action.id ? { ...n, node: action.node } : n)),
        edges: renameInEdges(f.edges, action.id, action.node.id),
      }));
      const selected = state.selected.map((id) => (id === action.id ? action.node.id : id));
      return commit(state, graph, { selected });
    }
    case "moveNodes": {
      const graph = withFlow(state.graph, verb, (f) => ({
        ...f,
        nodes: f.nodes.map((n) => ({ ...n, position: action.positions[n.node.id] ?? n.position })),
      }));
      return action.record ? commit(state, graph) : { ...state, graph };
    }
    case "connect":
      if (action.from === action.to) return state;
      return commit(state, withFlow(state.graph, verb, (f) => connect(f, action.from, action.port, action.to)));
    case "removeEdges": {
      const keys = new Set(action.keys);
      const implicit = action.keys.some((k) => k.startsWith("next:"));
      return commit(
        state,
        withFlow(state.graph, verb, (f) => {
          const edges = explicitEdges(f).filter((e) =>
            implicit ? !keys.has(`next:${e.edge.from}`) : !keys.has(e.key),
          );
          return { ...f, edges };
        }),
      );
    }
    case "removeNodes": {
      const ids = new Set(action.ids);
      return commit(
        state,
        withFlow(state.graph, verb, (f) => {
          // Removing a node from a list-order flow keeps the order of the others: no wires added.
          const edges = f.edges === null ? null : f.edges.filter((e) => !ids.has(e.edge.from) && !ids.has(e.edge.to));
          return { ...f, nodes: f.nodes.filter((n) => !ids.has(n.node.id)), edges };
        }),
        { selected: [] },
      );
    }
    default:
      return state;
  }
}

export function builderReducer(state: BuilderState, action: BuilderAction): BuilderState {
  switch (action.kind) {
    case "load":
      return { ...initialState(action.graph), tab: action.tab ?? initialState(action.graph).tab, revision: state.revision + 1 };
    case "tab":
      return { ...state, tab: action.tab, selected: [] };
    case "select":
      return { ...state, selected: action.ids };
    case "setTop":
      return commit(state, { ...state.graph, top: { ...state.graph.top, [action.key]: action.value } });
    case "addFlow": {
      if (state.graph.flows.some((f) => f.verb === action.verb)) return { ...state, tab: action.verb };
      const flow: FlowGraph = {
        nodes: [{ node: { id: "start", type: "trigger" }, position: { x: 40, y: 40 } }],
        edges: [],
        extra: {},
        keyOrder: ["nodes", "edges"],
      };
      return commit(state, { ...state.graph, flows: [...state.graph.flows, { verb: action.verb, flow }] }, { tab: action.verb, selected: [] });
    }
    case "removeFlow": {
      const flows = state.graph.flows.filter((f) => f.verb !== action.verb);
      return commit(state, { ...state.graph, flows }, { tab: flows[0]?.verb ?? "plugin", selected: [] });
    }
    case "layout":
      return {
        ...state,
        graph: withFlow(state.graph, action.verb, (f) => ({
          ...f,
          nodes: f.nodes.map((n) => ({ ...n, position: action.positions[n.node.id] ?? n.position })),
        })),
      };
    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous) return state;
      return {
        ...state,
        graph: previous,
        past: state.past.slice(0, -1),
        future: [state.graph, ...state.future],
        revision: state.revision + 1,
      };
    }
    case "redo": {
      const next = state.future[0];
      if (!next) return state;
      return {
        ...state,
        graph: next,
        past: [...state.past, state.graph],
        future: state.future.slice(1),
        revision: state.revision + 1,
      };
    }
    case "copy":
      return copy(state);
    case "paste":
      return paste(state);
    default:
      return editFlow(state, action);
  }
}
