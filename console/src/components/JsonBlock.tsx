/** JSON as the API sent it, pretty-printed (redaction is the API's job, never the browser's). */
import { Code } from "@mantine/core";

export function JsonBlock({ value, label }: { value: unknown; label?: string }) {
  return (
    <Code block fz="xs" aria-label={label} style={{ whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </Code>
  );
}
