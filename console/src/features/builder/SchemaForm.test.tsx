import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderAt } from "../../test/render";
import type { JsonObject } from "./document";
import { type JsonSchema, nodeTypes } from "./formatSchema";
import { SchemaForm } from "./SchemaForm";

// jsdom has no `document.fonts`, which Mantine's autosizing JSON editor listens to.
if (!("fonts" in document)) {
  Object.defineProperty(document, "fonts", {
    configurable: true,
    value: { addEventListener: () => {}, removeEventListener: () => {} },
  });
}

const root = JSON.parse(
  readFileSync(resolvePath(__dirname, "../../../../docs/plugin-format.schema.json"), "utf8"),
) as JsonSchema;
const poll = nodeTypes(root).find((t) => t.type === "poll")!;
const http = nodeTypes(root).find((t) => t.type === "http")!;

function form(schema: JsonSchema, value: JsonObject, errors?: Map<string, string[]>) {
  const onChange = vi.fn<(value: JsonObject) => void>();
  renderAt(<SchemaForm root={root} schema={schema} value={value} onChange={onChange} errors={errors} skip={["type"]} />);
  return onChange;
}

describe("the properties form generated from the schema", () => {
  it("edits a templated path when the field is left, keeping the other keys in order", () => {
    const onChange = form(http.schema, { id: "create", type: "http", path: "servers", method: "POST" });
    const path = screen.getByRole("textbox", { name: /^path/ });
    fireEvent.change(path, { target: { value: "servers/{{order.id}}" } });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(path);
    expect(onChange).toHaveBeenCalledWith({ id: "create", type: "http", path: "servers/{{order.id}}", method: "POST" });
  });

  it("shows the API's problem under the field it names", () => {
    form(http.schema, { id: "create", type: "http", path: "{{x" }, new Map([["path", ["unclosed template"]]]));
    expect(screen.getByRole("textbox", { name: /^path/ })).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("unclosed template")).toBeInTheDocument();
  });

  it("edits a check's value as JSON when it parses, else as text", () => {
    const value = { id: "wait", type: "poll", path: "tasks/1", until: [{ path: "status", equals: "done" }] };
    const onChange = form(poll.schema, value);
    const checkValue = screen.getByRole("textbox", { name: "until 1 value" });
    expect(checkValue).toHaveValue("done");
    fireEvent.change(checkValue, { target: { value: "2" } });
    fireEvent.blur(checkValue);
    expect(onChange).toHaveBeenLastCalledWith({ ...value, until: [{ path: "status", equals: 2 }] });
  });

  it("clears an optional field by removing its key", () => {
    const onChange = form(http.schema, { id: "create", type: "http", path: "s", label: "make it" });
    const label = screen.getByRole("textbox", { name: "label" });
    fireEvent.change(label, { target: { value: "" } });
    fireEvent.blur(label);
    expect(onChange).toHaveBeenLastCalledWith({ id: "create", type: "http", path: "s" });
  });

  it("refuses a JSON field that does not parse, without changing the node", () => {
    const onChange = form(http.schema, { id: "create", type: "http", path: "s" });
    const body = screen.getByRole("textbox", { name: "body" });
    fireEvent.change(body, { target: { value: "{hostname: 1}" } });
    fireEvent.blur(body);
    expect(onChange).not.toHaveBeenCalled();
    expect(screen.getByText(/not valid JSON/)).toBeInTheDocument();
  });
});
