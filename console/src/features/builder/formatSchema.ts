/**
 * What the builder reads from the plugin format's JSON Schema (`GET /api/v1/plugins/schema`):
 * the node types with their parameters and output ports, the lifecycle verbs, the header fields.
 * Nothing here is hard-coded per node type: a type the API adds shows up in the palette.
 */

export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  title?: string;
  description?: string;
  default?: unknown;
  minItems?: number;
  [key: string]: unknown;
}

export interface NodeType {
  type: string;
  title: string;
  description: string;
  /** The named output ports, in the schema's order (none for `fail` and `done`). */
  ports: string[];
  schema: JsonSchema;
}

/** The `#/$defs/...` a `$ref` points to, or the schema itself. */
export function resolve(root: JsonSchema, schema: JsonSchema): JsonSchema {
  if (schema.$ref?.startsWith("#/$defs/")) {
    const target = root.$defs?.[schema.$ref.slice("#/$defs/".length)];
    if (target) return target;
  }
  return schema;
}

/** The one non-null branch of an `anyOf: [X, null]`, resolved; else the schema resolved. */
export function unwrapNullable(root: JsonSchema, schema: JsonSchema): JsonSchema {
  const branches = schema.anyOf?.filter((b) => b.type !== "null");
  if (branches && branches.length === 1) {
    return { ...resolve(root, branches[0]!), title: schema.title, description: schema.description };
  }
  return resolve(root, schema);
}

/** The ports a node type's description names ("Output ports: error, exists, ok."). */
export function portsOf(description: string): string[] {
  const match = /Output ports: ([^\n]*)/.exec(description);
  const list = match?.[1];
  if (!list || list.startsWith("none")) return [];
  return list
    .replace(/\.$/, "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
}

const PORT_ORDER = ["ok", "true", "found", "false", "missing", "exists", "error"];

/** Every node type of the format, the trigger first. */
export function nodeTypes(root: JsonSchema): NodeType[] {
  const out: NodeType[] = [];
  for (const [name, schema] of Object.entries(root.$defs ?? {})) {
    if (!name.startsWith("node.")) continue;
    const type = name.slice("node.".length);
    const description = schema.description ?? "";
    const ports = portsOf(description).sort((a, b) => PORT_ORDER.indexOf(a) - PORT_ORDER.indexOf(b));
    out.push({ type, title: schema.title ?? type, description, ports, schema });
  }
  return out.sort((a, b) => (a.type === "trigger" ? -1 : b.type === "trigger" ? 1 : 0));
}

/** The lifecycle verbs a document may have flows for. */
export function verbs(root: JsonSchema): string[] {
  const flows = root.properties?.flows;
  return Object.keys(flows?.properties ?? {});
}

/** The header's schema (`plugin`). */
export function headerSchema(root: JsonSchema): JsonSchema {
  return resolve(root, root.properties?.plugin ?? {});
}

/** The capability names the header accepts, and the flows each one needs (from its description). */
export function capabilities(root: JsonSchema): { name: string; needs: string[] }[] {
  const schema = headerSchema(root).properties?.capabilities;
  const names = (schema?.propertyNames as JsonSchema | undefined)?.enum ?? [];
  const description = schema?.description ?? "";
  return names.map((name) => {
    const match = new RegExp(`${String(name)} needs ([a-z_]+(?: and [a-z_]+)*)`).exec(description);
    return { name: String(name), needs: match?.[1] ? match[1].split(" and ") : [] };
  });
}

/** A new node of `type` with its required parameters filled with a placeholder. */
export function newNode(root: JsonSchema, type: NodeType, id: string): Record<string, unknown> {
  const node: Record<string, unknown> = { id, type: type.type };
  for (const field of type.schema.required ?? []) {
    if (field === "id" || field === "type") continue;
    const schema = resolve(root, type.schema.properties?.[field] ?? {});
    if (schema.type === "array") node[field] = [];
    else if (schema.type === "object") node[field] = {};
    else node[field] = "";
  }
  return node;
}
