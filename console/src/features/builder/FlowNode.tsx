/** One node on the canvas: its id, type and label, one handle per named output port. */
import { Badge, Group, Text } from "@mantine/core";
import { Handle, type NodeProps, Position } from "@xyflow/react";
import { NODE_HEIGHT, NODE_WIDTH } from "./layout";

export interface FlowNodeData extends Record<string, unknown> {
  nodeId: string;
  type: string;
  label: string | null;
  ports: string[];
  problems: number;
  /** Test run: this node is the current step / ran / failed. */
  trace: "current" | "ran" | "failed" | null;
}

const PORT_COLOURS: Record<string, string> = {
  ok: "#2f9e44",
  true: "#2f9e44",
  found: "#2f9e44",
  false: "#e8590c",
  missing: "#e8590c",
  exists: "#1971c2",
  error: "#e03131",
};

function border(data: FlowNodeData, selected: boolean): string {
  if (data.trace === "current") return "3px solid #7048e8";
  if (data.trace === "failed") return "2px solid #e03131";
  if (data.problems > 0) return "2px solid #e03131";
  if (selected) return "2px solid #228be6";
  if (data.trace === "ran") return "2px solid #2f9e44";
  return "1px solid #adb5bd";
}

export function FlowNode({ data, selected }: NodeProps & { data: FlowNodeData }) {
  return (
    <div
      role="group"
      aria-label={`Node ${data.nodeId}`}
      data-trace={data.trace ?? undefined}
      style={{
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        background: data.trace === "current" ? "#f3f0ff" : "white",
        border: border(data, selected),
        borderRadius: 8,
        padding: "8px 10px",
        fontSize: 12,
        position: "relative",
      }}
    >
      <Handle type="target" position={Position.Top} id="in" aria-label={`input of ${data.nodeId}`} />
      <Group justify="space-between" gap={4} wrap="nowrap">
        <Text size="sm" fw={600} truncate>
          {data.nodeId}
        </Text>
        {data.problems > 0 && (
          <Badge color="red" size="sm" aria-label={`${data.problems} problems`}>
            {data.problems}
          </Badge>
        )}
      </Group>
      <Text size="xs" c="dimmed" truncate>
        {data.type}
        {data.label ? ` · ${data.label}` : ""}
      </Text>
      {data.ports.map((port, index) => {
        const left = `${((index + 0.5) / data.ports.length) * 100}%`;
        return (
          <div key={port}>
            <span
              style={{
                position: "absolute",
                bottom: 4,
                left,
                transform: "translateX(-50%)",
                fontSize: 10,
                color: PORT_COLOURS[port] ?? "#495057",
              }}
            >
              {port}
            </span>
            <Handle
              type="source"
              position={Position.Bottom}
              id={port}
              aria-label={`port ${port} of ${data.nodeId}`}
              style={{ left, width: 10, height: 10, background: PORT_COLOURS[port] ?? "#495057" }}
            />
          </div>
        );
      })}
    </div>
  );
}
