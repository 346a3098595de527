/**
 * Auto-layout of a loaded flow with ELK (layered, top to bottom, which suits the tall canvas
 * between the palette and the properties): the input on top, the ports along the bottom in their
 * fixed order (`ok` first, `error` last), as the canvas draws them.
 */
import { type FlowGraph, type Position, drawnEdges } from "./document";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 74;


// ELK is large (about 1.4 MB): loaded when a flow is first laid out, as a chunk of its own.
let elk: Promise<{ layout: (graph: never) => Promise<{ children?: { id: string; x?: number; y?: number }[] }> }> | null = null;
function engine() {
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default() as never);
  return elk;
}

/** Positions for every node of `flow` (`portsOf` gives a node type's ports). */
export async function layoutFlow(
  flow: FlowGraph,
  portsOf: (type: string) => string[],
): Promise<Record<string, Position>> {
  const ids = new Set(flow.nodes.map((n) => n.node.id));
  const graph = await (await engine()).layout({
    id: "flow",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.spacing.nodeNode": "30",
      "elk.layered.spacing.nodeNodeBetweenLayers": "50",
      "elk.portConstraints": "FIXED_ORDER",
    },
    children: flow.nodes.map(({ node }) => {
      const ports = portsOf(node.type);
      return {
        id: node.id,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        layoutOptions: { "elk.portConstraints": "FIXED_ORDER" },
        ports: [
          { id: `${node.id}::in`, layoutOptions: { "elk.port.side": "NORTH" } },
          ...ports.map((port, index) => ({
            id: `${node.id}::${port}`,
            layoutOptions: { "elk.port.side": "SOUTH", "elk.port.index": String(ports.length - index) },
          })),
        ],
      };
    }),
    edges: drawnEdges(flow)
      .filter((e) => ids.has(e.from) && ids.has(e.to))
      .map((e) => ({ id: e.key, sources: [`${e.from}::${e.port}`], targets: [`${e.to}::in`] })),
  } as never);
  const out: Record<string, Position> = {};
  for (const child of graph.children ?? []) out[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return out;
}
