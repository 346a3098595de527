import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { describe, expect, it } from "vitest";
import { type JsonSchema, capabilities, headerSchema, newNode, nodeTypes, portsOf, verbs } from "./formatSchema";
import { kindOf, parseLoose, parseScalar, setKey } from "./SchemaForm";

// The same document `GET /api/v1/plugins/schema` answers (a Python test keeps them equal).
const schema = JSON.parse(
  readFileSync(resolvePath(__dirname, "../../../../docs/plugin-format.schema.json"), "utf8"),
) as JsonSchema;

describe("what the builder reads from the format's schema", () => {
  it("finds every node type with its named ports, the trigger first", () => {
    const types = nodeTypes(schema);
    expect(types[0]?.type).toBe("trigger");
    const ports = Object.fromEntries(types.map((t) => [t.type, t.ports]));
    expect(ports).toMatchObject({
      trigger: ["ok"],
      http: ["ok", "exists", "error"],
      lookup: ["found", "missing", "error"],
      condition: ["true", "false"],
      poll: ["ok", "error"],
      fail: [],
      done: [],
    });
  });

  it("reads ports from a description and none from an ending node", () => {
    expect(portsOf("Parameters.\n\nOutput ports: error, ok.")).toEqual(["error", "ok"]);
    expect(portsOf("Output ports: none (ends the flow).")).toEqual([]);
  });

  it("lists the verbs and the capabilities with the flows they need", () => {
    expect(verbs(schema)).toEqual(expect.arrayContaining(["provision", "suspend", "unsuspend", "terminate"]));
    expect(capabilities(schema)).toContainEqual({ name: "canSuspend", needs: ["suspend", "unsuspend"] });
  });

  it("gives a new node its required parameters", () => {
    const poll = nodeTypes(schema).find((t) => t.type === "poll")!;
    expect(newNode(schema, poll, "wait")).toEqual({ id: "wait", type: "poll", path: "", until: [] });
  });

  it("chooses an input for every field of every node type and the header", () => {
    const kinds = (name: string, s: JsonSchema) =>
      Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, p]) => [`${name}.${k}`, kindOf(schema, p)]));
    const all = {
      ...Object.assign({}, ...nodeTypes(schema).map((t) => kinds(t.type, t.schema))),
      ...kinds("plugin", headerSchema(schema)),
    } as Record<string, string>;
    expect(all).toMatchObject({
      "http.path": "string",
      "http.method": "enum",
      "http.headers": "stringMap",
      "http.extract": "stringMap",
      "http.body": "json",
      "http.query": "json",
      "http.classify": "json",
      "http.retry": "json",
      "poll.until": "checks",
      "poll.fail_when": "checks",
      "poll.interval": "number",
      "lookup.where": "checks",
      "condition.truthy": "boolean",
      "plugin.serviceType": "enum",
      "plugin.connectionType": "enum",
      "plugin.capabilities": "flags",
      "plugin.settings": "json",
    });
  });

  it("keeps numbers numbers and templates text", () => {
    expect(parseScalar("10")).toBe(10);
    expect(parseScalar("{{settings.poll ?? 10}}")).toBe("{{settings.poll ?? 10}}");
    expect(parseLoose('["failed", 2]')).toEqual(["failed", 2]);
    expect(parseLoose("done")).toBe("done");
  });

  it("removes a cleared field and keeps the other keys in order", () => {
    expect(Object.keys(setKey({ id: "a", type: "http", label: "x", path: "p" }, "label", undefined))).toEqual(["id", "type", "path"]);
  });
});
