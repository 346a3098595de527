/**
 * One flow on the canvas (@xyflow/react): nodes by their stable ids, wires from named ports
 * (handles are named `ok`, `error`, `found`, ... never numbered), zoom and pan, drop from the
 * palette. A list-order flow's implicit "next" wires are drawn dashed.
 */
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  type EdgeChange,
  MarkerType,
  type Node,
  type NodeChange,
  ReactFlow,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { type DragEvent, useEffect, useMemo } from "react";
import { type FlowGraph, type Position, drawnEdges } from "./document";
import { FlowNode, type FlowNodeData } from "./FlowNode";

const nodeTypes = { flow: FlowNode };

export const PALETTE_MIME = "application/x-fluxbilling-node-type";

export interface CanvasProps {
  flow: FlowGraph;
  selected: string[];
  portsOf: (type: string) => string[];
  problems: Map<string, number>;
  edgeProblems: Set<string>;
  trace: Map<string, FlowNodeData["trace"]>;
  onSelect: (ids: string[]) => void;
  onMove: (positions: Record<string, Position>, record: boolean) => void;
  onConnect: (from: string, port: string, to: string) => void;
  onRemoveNodes: (ids: string[]) => void;
  onRemoveEdges: (keys: string[]) => void;
  onDropType: (type: string, position: Position) => void;
  /** Changing it fits the flow into the canvas again (the canvas was resized). */
  fitKey?: number;
}

export function Canvas(props: CanvasProps) {
  const { flow, selected, portsOf, problems, edgeProblems, trace } = props;
  const { screenToFlowPosition, fitView } = useReactFlow();
  // A node added or removed: show the whole flow again (never zoomed in past 100 %).
  const count = flow.nodes.length;
  useEffect(() => {
    const timer = setTimeout(() => void fitView({ padding: 0.2, maxZoom: 1, duration: 200 }), 150);
    return () => clearTimeout(timer);
  }, [count, fitView, props.fitKey]);
  const chosen = useMemo(() => new Set(selected), [selected]);
  const nodes: Node<FlowNodeData>[] = useMemo(
    () =>
      flow.nodes.map(({ node, position }) => ({
        id: node.id,
        type: "flow",
        position,
        selected: chosen.has(node.id),
        deletable: node.type !== "trigger",
        data: {
          nodeId: node.id,
          type: node.type,
          label: typeof node.label === "string" ? node.label : null,
          ports: portsOf(node.type),
          problems: problems.get(node.id) ?? 0,
          trace: trace.get(node.id) ?? null,
        },
      })),
    [flow.nodes, chosen, portsOf, problems, trace],
  );
  const edges: Edge[] = useMemo(
    () =>
      drawnEdges(flow).map((e) => ({
        id: e.key,
        source: e.from,
        sourceHandle: e.port,
        target: e.to,
        targetHandle: "in",
        label: e.port === "ok" ? undefined : e.port,
        ariaLabel: `wire ${e.from} ${e.port} to ${e.to}${e.implicit ? " (list order)" : ""}`,
        animated: e.implicit,
        style: {
          strokeDasharray: e.implicit ? "4 4" : undefined,
          stroke: edgeProblems.has(e.key) ? "#e03131" : undefined,
          strokeWidth: edgeProblems.has(e.key) ? 2 : undefined,
        },
        markerEnd: { type: MarkerType.ArrowClosed },
      })),
    [flow, edgeProblems],
  );

  const onNodesChange = (changes: NodeChange<Node<FlowNodeData>>[]) => {
    const moved: Record<string, Position> = {};
    let dropped = false;
    const removed: string[] = [];
    let selection: string[] | null = null;
    for (const change of changes) {
      if (change.type === "position" && change.position) {
        moved[change.id] = change.position;
        if (change.dragging === false) dropped = true;
      } else if (change.type === "position" && change.dragging === false) {
        dropped = true;
      } else if (change.type === "remove") {
        removed.push(change.id);
      } else if (change.type === "select") {
        selection ??= [...selected];
        selection = change.selected ? [...new Set([...selection, change.id])] : selection.filter((id) => id !== change.id);
      }
    }
    if (Object.keys(moved).length > 0 || dropped) props.onMove(moved, dropped);
    if (removed.length > 0) props.onRemoveNodes(removed);
    if (selection) props.onSelect(selection);
  };

  const onEdgesChange = (changes: EdgeChange[]) => {
    const removed = changes.filter((c) => c.type === "remove").map((c) => c.id);
    if (removed.length > 0) props.onRemoveEdges(removed);
  };

  const onConnect = (connection: Connection) => {
    if (connection.source && connection.target) {
      props.onConnect(connection.source, connection.sourceHandle ?? "ok", connection.target);
    }
  };

  const onDrop = (event: DragEvent) => {
    const type = event.dataTransfer.getData(PALETTE_MIME);
    if (!type) return;
    event.preventDefault();
    props.onDropType(type, screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onConnect={onConnect}
      onDrop={onDrop}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = "move";
      }}
      deleteKeyCode={["Delete", "Backspace"]}
      fitView
      fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
      minZoom={0.2}
      maxZoom={2}
      proOptions={{ hideAttribution: true }}
      aria-label="Flow canvas"
    >
      <Background gap={16} />
      <Controls />
    </ReactFlow>
  );
}
